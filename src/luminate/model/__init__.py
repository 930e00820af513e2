"""The ground floor: values and rules every layer shares (points, names, the query model, result
rows, errors, times). Nothing here imports any other part of Luminate."""
