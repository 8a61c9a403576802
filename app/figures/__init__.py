"""Pure functions: tables and arrays -> Plotly figures."""
