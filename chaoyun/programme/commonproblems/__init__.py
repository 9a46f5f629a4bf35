"""Industry common-problem report (行业共性问题改进建议报告, plan item 12): completed diagnoses and platform data
aggregated per industry and district, weakest areas and scenes ranked, leaders against laggards, typical cases
and the resource-pool offerings that address each weakness. Groups under five enterprises are never shown."""
