"""Quality: defect signals for R&D, counted from owner cases by series, component and symptom."""
