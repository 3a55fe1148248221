"""The consolidation's outputs: the XLSX workbook and the DOCX draft built from a ReportInput,
and the text of each outline heading taken from the units' .docx reports."""
