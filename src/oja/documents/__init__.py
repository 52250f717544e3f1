"""Documents: upload a PDF, DOCX or text file, extract its text, analyse it with the AI port."""
