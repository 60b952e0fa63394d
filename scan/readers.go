package scan

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// kind is a file format as recognized from its first bytes.
type kind int

const (
	kindText kind = iota
	kindBinary
	kindGzip
	kindBzip2
	kindTar
	kindZip
	kindPDF
	kindUnsupported // a compressed or container format we cannot open
)

const sniffLen = 8 << 10

// sniff recognizes the format of a file from its first bytes. Magic
// numbers and UTF-16 byte order marks decide first; then a NUL byte or
// many control characters mean binary, unless the head reads as UTF-16
// without a byte order mark (utf16NoBOM). Text in legacy encodings (GBK,
// Big5) is text; textEncoding decides whether it is decoded.
func sniff(head []byte) (kind, string) {
	switch {
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return kindGzip, "gzip"
	case bytes.HasPrefix(head, []byte("BZh")) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return kindBzip2, "bzip2"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return kindZip, "zip"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return kindTar, "tar"
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return kindPDF, "pdf"
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return kindUnsupported, "xz"
	case bytes.HasPrefix(head, []byte("7z\xbc\xaf\x27\x1c")):
		return kindUnsupported, "7z"
	case bytes.HasPrefix(head, []byte("Rar!\x1a\x07")):
		return kindUnsupported, "rar"
	case bytes.HasPrefix(head, []byte("\x28\xb5\x2f\xfd")):
		return kindUnsupported, "zstd"
	case bytes.HasPrefix(head, []byte("\xff\xfe\x00\x00")):
		return kindBinary, "binary" // UTF-32LE: rare, not decoded
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		// UTF-16 with a byte order mark (Windows "Unicode text", Excel's
		// "Unicode Text" export): text, decoded by encodedText.
		return kindText, "utf-16"
	}
	ctrl := 0
	for _, c := range head {
		switch {
		case c == 0:
			if utf16NoBOM(head) != "" {
				return kindText, "utf-16"
			}
			return kindBinary, "binary"
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b:
			ctrl++
		}
	}
	if ctrl*10 > len(head) {
		return kindBinary, "binary"
	}
	return kindText, "text"
}

// file scans one file on disk.
func (s *scanner) file(ctx context.Context, name string) {
	f, err := os.Open(name)
	if err != nil {
		s.noteErr(ctx, name, pathErr(err))
		return
	}
	defer f.Close()
	defer s.files.Add(1)
	fi, err := f.Stat()
	if err != nil {
		s.noteErr(ctx, name, pathErr(err))
		return
	}
	r := countingReader{r: f, n: &s.read}
	s.stream(ctx, r, &fileAt{f: f, size: fi.Size()}, name, 0)
}

// fileAt gives random access to a file on disk, for zip archives, without
// reading it into memory.
type fileAt struct {
	f    *os.File
	size int64
}

// stream scans one input: a file or an archive member. at, when not nil,
// gives random access to the same bytes (a file on disk).
func (s *scanner) stream(ctx context.Context, r io.Reader, at *fileAt, name string, depth int) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		s.noteErr(ctx, name, fmt.Errorf("read: %w", err))
		return
	}
	k, what := sniff(head)
	if k != kindText && k != kindBinary && k != kindPDF && k != kindUnsupported && depth >= s.opt.MaxDepth {
		s.noteSkip(ctx, name, fmt.Sprintf("%s archive nested deeper than %d", what, s.opt.MaxDepth))
		return
	}
	switch k {
	case kindText:
		if enc := textEncoding(head, err == io.EOF); enc != "" {
			s.encodedText(ctx, br, name, enc, 0, 0, 0, true)
			return
		}
		s.text(ctx, br, name, "", true)
	case kindBinary:
		s.noteSkip(ctx, name, "binary file")
	case kindPDF:
		s.pdf(ctx, br, at, name)
	case kindUnsupported:
		s.noteSkip(ctx, name, what+": compression format not supported")
	case kindGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			s.noteErr(ctx, name, fmt.Errorf("gzip: %w", err))
			return
		}
		zr.Multistream(true)
		s.decompressed(ctx, zr, name, innerName(name, zr.Name, ".gz", ".tgz"), depth)
	case kindBzip2:
		s.decompressed(ctx, bzip2.NewReader(br), name, innerName(name, "", ".bz2", ".tbz2"), depth)
	case kindTar:
		s.tar(ctx, br, name, depth)
	case kindZip:
		s.zip(ctx, br, at, name, depth)
	}
}

// decompressed scans the content of a gzip or bzip2 stream; a read error
// there (corrupt data, truncated file) is a note on the member.
func (s *scanner) decompressed(ctx context.Context, r io.Reader, outer, inner string, depth int) {
	s.stream(ctx, &errNamer{r: r}, nil, outer+"!"+inner, depth+1)
}

// innerName names the content of a compressed file: a.log.gz → a.log,
// b.tgz → b.tar; the name in the gzip header wins when there is one.
func innerName(outer, header, ext, tarExt string) string {
	if header != "" {
		return path.Base(header)
	}
	base := path.Base(strings.ReplaceAll(outer, "\\", "/"))
	if i := strings.LastIndexByte(base, '!'); i >= 0 {
		base = base[i+1:]
	}
	low := strings.ToLower(base)
	switch {
	case strings.HasSuffix(low, tarExt):
		return base[:len(base)-len(tarExt)] + ".tar"
	case strings.HasSuffix(low, ext):
		return base[:len(base)-len(ext)]
	}
	return base
}

// errNamer tags read errors of decompressors so that notes say where the
// failure happened.
type errNamer struct{ r io.Reader }

func (e *errNamer) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decompress: %w", err)
	}
	return n, err
}

func (s *scanner) tar(ctx context.Context, r io.Reader, name string, depth int) {
	tr := tar.NewReader(r)
	s.record(ctx, &unit{files: 1})
	for ctx.Err() == nil {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			s.noteErr(ctx, name, fmt.Errorf("tar: %w", err))
			return
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		s.stream(ctx, tr, nil, name+"!"+h.Name, depth+1)
	}
}

// zip opens a zip archive (an xlsx, docx and pptx are zip archives too)
// from disk when it is a file, or from memory when it is a member of
// another archive.
func (s *scanner) zip(ctx context.Context, r io.Reader, at *fileAt, name string, depth int) {
	var ra io.ReaderAt
	var size int64
	if at != nil {
		ra, size = at.f, at.size
	} else {
		data, err := s.buffer(r)
		if err != nil {
			s.noteSkip(ctx, name, err.Error())
			return
		}
		ra, size = bytes.NewReader(data), int64(len(data))
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		s.noteErr(ctx, name, err) // archive/zip errors say "zip: …"
		return
	}
	switch officeKind(zr) {
	case "xlsx":
		s.xlsx(ctx, ra, size, name)
		return
	case "docx", "pptx":
		s.office(ctx, zr, name)
		return
	}
	s.record(ctx, &unit{files: 1})
	for _, f := range zr.File {
		if ctx.Err() != nil {
			return
		}
		if f.FileInfo().IsDir() || !f.Mode().IsRegular() {
			continue
		}
		member := name + "!" + f.Name
		rc, err := f.Open()
		if err != nil {
			s.noteErr(ctx, member, fmt.Errorf("zip: %w", err))
			continue
		}
		s.stream(ctx, &errNamer{r: rc}, nil, member, depth+1)
		rc.Close()
	}
}

// buffer reads an archive member that needs random access into memory,
// up to MaxBuffered bytes.
func (s *scanner) buffer(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, s.opt.MaxBuffered+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(data)) > s.opt.MaxBuffered {
		return nil, fmt.Errorf("larger than %d MiB, the most held in memory to open it", s.opt.MaxBuffered>>20)
	}
	return data, nil
}

// officeKind recognizes Office Open XML documents by their parts, not by
// file name, so that renamed files are read for what they are.
func officeKind(zr *zip.Reader) string {
	for _, f := range zr.File {
		switch f.Name {
		case "xl/workbook.xml":
			return "xlsx"
		case "word/document.xml":
			return "docx"
		case "ppt/presentation.xml":
			return "pptx"
		}
	}
	return ""
}

// text scans a plain-text stream in chunks that overlap by 2×margin bytes.
// Chunk k owns the findings that start in its bytes less the margin it
// shares with its neighbours, so a finding across a chunk boundary is
// reported once, by the chunk that sees it whole with its context.
func (s *scanner) text(ctx context.Context, r io.Reader, name, location string, countFile bool) {
	var base int64
	carry := 0
	bp := s.pool.Get().(*[]byte)
	buf := *bp
	first := true
	// The head said UTF-8 (or bytes); a later chunk may say GBK or Big5.
	// Only a file's own bytes: extracted text is our UTF-8.
	watch := location == ""
	for {
		n, err := io.ReadFull(r, buf[carry:])
		total := carry + n
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			s.pool.Put(bp)
			s.noteErr(ctx, name, fmt.Errorf("read at byte %d: %w", base+int64(total), err))
			return
		}
		u := &unit{path: name, location: location, base: base, text: buf[:total], pooled: true, bytes: int64(n)}
		if watch && !notUTF8Hint(buf[:total]) {
			watch = !writtenAsUTF8(buf[:total], base)
		} else if watch {
			own0 := 0
			if !first {
				own0 = margin
			}
			if p, from, enc := switchEncoding(buf[:total], own0); enc != "" {
				rest := bytes.Clone(buf[from:total])
				u.own0, u.own1 = own0, p
				if err := s.submit(ctx, u); err != nil {
					return
				}
				s.encodedText(ctx, io.MultiReader(bytes.NewReader(rest), r), name, enc, base+int64(from), base+int64(p), base+int64(total), countFile)
				return
			}
		}
		if !first {
			u.own0 = margin
		}
		u.own1 = total
		if !eof {
			u.own1 = total - margin
		} else if countFile {
			u.files = 1
		}
		var next []byte
		if !eof {
			np := s.pool.Get().(*[]byte)
			bp, next = np, *np
			copy(next, buf[total-overlap:total])
			carry = overlap
			base += int64(total - overlap)
		}
		if err := s.submit(ctx, u); err != nil {
			return
		}
		if eof {
			return
		}
		buf = next
		first = false
	}
}
