package azblobstore

import (
	"context"

	"github.com/tre-go/tre/internal/tre"
)

// DefenderTag is the blob index tag in which Defender for Storage's
// malware scanning writes its verdict on each blob it scanned ("No threats
// found", "Malicious", or "Error" / "Not scanned").
const DefenderTag = "Malware Scanning scan result"

// DefenderScanner reads Defender for Storage's verdicts: the tag it writes
// on every blob of the in-progress accounts once it has scanned it
// (on-upload scanning is on there, infra/). No tag yet is a pending
// verdict. The identity needs Storage Blob Data Owner on those accounts to
// read tags.
type DefenderScanner struct {
	Store *Store
}

var _ tre.Scanner = (*DefenderScanner)(nil)

// Verdict implements tre.Scanner. Returns CodeNotFound, CodeUnavailable.
func (d *DefenderScanner) Verdict(ctx context.Context, c tre.BlobContainer, name string) (tre.ScanResult, error) {
	cc, err := d.Store.container(c)
	if err != nil {
		return tre.ScanResult{}, err
	}
	resp, err := cc.NewBlobClient(name).GetTags(ctx, nil)
	if err != nil {
		return tre.ScanResult{}, translate(err, "read the tags of "+c.String()+"/"+name)
	}
	for _, t := range resp.BlobTagSet {
		if t.Key != nil && *t.Key == DefenderTag && t.Value != nil {
			return tre.ScanResult{Verdict: tre.ScanVerdict(*t.Value), Detail: "Defender for Storage"}, nil
		}
	}
	return tre.ScanResult{Verdict: tre.VerdictPending}, nil
}

// StandIn implements tre.Scanner: Defender is a malware scanner.
func (d *DefenderScanner) StandIn() bool { return false }
