"""Energy performance: comprehensive energy in tce, baselines and savings, and ranked
reduction opportunities, assembled from stored figures for the API, reports and CLI."""
