"""Cross-framework validation suite of ml4t-backtest (issue 7).

Each scenario runs a peer framework (Backtrader, backtesting.py, VectorBT, bt, Zipline) and
ml4t-backtest on the same real data and compares the fills exactly and the final equity within
0.002% relative. The peers live in the ``validation`` dependency group only.
"""
