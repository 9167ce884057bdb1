"""Review and clinician export: the nights table, notes, trend, pictures and exports."""
