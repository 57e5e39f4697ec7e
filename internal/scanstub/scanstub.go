// Package scanstub is a STAND-IN for the airlock's malware scanner, for
// running on one machine: it is not a malware scanner. It reads each blob
// and reports it malicious if and only if it contains the EICAR test
// string (the anti-virus test file every scanner recognises), and clean
// otherwise; every result says it comes from the stand-in. In Azure,
// Defender for Storage scans the airlock's in-progress storage instead
// (internal/azblobstore reads its verdicts).
package scanstub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/tre-go/tre/internal/tre"
)

// EICAR is the EICAR anti-virus test string.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Scanner is the stand-in scanner over the airlock's storage.
type Scanner struct {
	Blobs tre.Blobs
}

var _ tre.Scanner = (*Scanner)(nil)

// Verdict implements tre.Scanner: VerdictMalicious when the blob contains
// the EICAR test string, VerdictClean otherwise, never pending. Returns
// CodeNotFound.
func (s *Scanner) Verdict(ctx context.Context, c tre.BlobContainer, name string) (tre.ScanResult, error) {
	rc, err := s.Blobs.Open(ctx, c, name)
	if err != nil {
		return tre.ScanResult{}, err
	}
	defer rc.Close()
	found, err := contains(rc, []byte(EICAR))
	if err != nil {
		return tre.ScanResult{}, fmt.Errorf("scanstub: read %s/%s: %w", c, name, err)
	}
	if found {
		return tre.ScanResult{Verdict: tre.VerdictMalicious,
			Detail: "the EICAR test string, found by the scanner stand-in (not Defender for Storage)"}, nil
	}
	return tre.ScanResult{Verdict: tre.VerdictClean,
		Detail: "the scanner stand-in recognises only the EICAR test string; this was not a malware scan"}, nil
}

// StandIn implements tre.Scanner: this one is.
func (s *Scanner) StandIn() bool { return true }

// contains reports whether r contains needle, reading it in chunks and
// keeping the tail of each so a match across two chunks is found.
func contains(r io.Reader, needle []byte) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 0, 64<<10+len(needle))
	chunk := make([]byte, 64<<10)
	for {
		n, err := br.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, needle) {
			return true, nil
		}
		if keep := len(needle) - 1; len(buf) > keep {
			buf = append(buf[:0], buf[len(buf)-keep:]...)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}
