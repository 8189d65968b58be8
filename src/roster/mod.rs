//! Rosters (SPEC §4): spreadsheets and CSV files into `workflow::Roster`. Work in progress (issue 4).
