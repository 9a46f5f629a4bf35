"""Production scheduling (智能排产): job shop / flexible job shop solved with OR-Tools CP-SAT."""
