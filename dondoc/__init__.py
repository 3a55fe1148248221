"""dondoc: report campaigns for Vietnamese trade-union federations."""
