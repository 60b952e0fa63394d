// Package scan finds personal information in files and archives: the
// engine behind `custos scan PATH…`. It walks directories, recognizes the
// format of each file (plain text of any kind — UTF-8; GB18030/GBK, Big5
// and UTF-16 with or without a byte order mark decoded, also when GBK or
// Big5 starts after the head (encoding.go) — gzip, tar, zip, xlsx, docx,
// pptx, pdf), extracts text where it must, and runs the pii detectors over it
// in chunks on all cores with bounded memory. Findings come out in a
// stable order (walk order, then offset) with masked values, and a Writer
// renders them as table, json, jsonl, csv or SARIF 2.1.0.
//
// Database discovery lives in the subpackage scan/dbscan; it produces the
// same Finding type so that one Writer serves both.
//
// Offsets: for a file read as text, Finding.Offset and Finding.Length are
// bytes of the file as stored (for a member of an archive, of the member
// as decompressed), also when the text was decoded from GB18030, Big5 or
// UTF-16 (Finding.Encoding says which; Value is UTF-8, Big5 as written
// though the detectors see it folded to simplified characters, fold.go). For formats whose text is extracted, Finding.Location
// names where the text came from (an xlsx cell such as "Sheet1!B7", a
// docx part such as "word/document.xml", a pdf page such as "page 3") and Offset is in bytes of that
// extracted text. Raw values never leave this package unmasked unless
// Options.Reveal is set.
package scan
