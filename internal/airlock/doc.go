// Package airlock is the TRE's airlock: how data enters a workspace
// (import) and leaves it (export) under review, as AzureTRE does it, on
// Azure Storage, processed by functions of the same custom handler.
//
// # Requests and their statuses
//
// A researcher or owner of a workspace creates a request (a draft), gets a
// link to its container (a URL signed for writing), uploads files, and
// submits it. The files then move from stage to stage, each stage a storage
// account (Layout, AzureTRE's names): from the draft's account to the
// in-progress one, where the malware scanner looks at them; clean files go
// to review, where airlock managers open them read-only (the same link
// gives them a read-only URL) and approve or reject the request, with an
// explanation; the files then move to the approved account (inside the
// workspace for an import, outside it for an export) or the rejected one.
// A file the scanner finds malicious sends the request to the blocked
// account instead. The statuses and the legal changes between them are
// AzureTRE's (Legal); an illegal change is a 400 with AzureTRE's text. An
// option (RequiredApprovals 2) makes an approval need two distinct
// airlock managers, a stricter rule than AzureTRE's.
//
// # Changes and their messages
//
// Every change of a request is one write of its document, with its etag: a
// new version, the previous one in its history, and the change's messages
// queued in the document itself (Unsent). They are then sent (flush) and
// forgotten: a status change that has work for the processor goes to the
// airlock-status-changed queue, and every status change goes to the
// airlock-notification topic, for notifiers. A crash between the write and
// the send loses nothing: the airlock-sweep timer sends what is still
// unsent, and message ids derived from the change make a second send a
// duplicate the queue drops.
//
// # The processor
//
// The airlock-status-changed function (Process) does the work of a status
// change: it creates a draft's container, copies a request's files to the
// next stage's container and deletes them from the previous one, and sets
// the outcome (in review, approved, rejected, blocked, failed). Each step
// records its progress in the request (Stage) before the next, and the
// outcome is written only while the request is still in the status the
// message is about, so a message delivered again (after a crash, or twice)
// resumes where the work stopped and changes the request once. Scan
// verdicts that are not in yet are looked at again by the sweep, which also
// fails requests the processor has not moved on within a limit.
//
// # Storage and scanning
//
// Blobs (tre.Blobs) is Azure Storage through the azblob SDK
// (internal/azblobstore): the managed identity in Azure, Azurite locally
// and in tests, where every stage's account is a container prefix of one
// account. The scanner (tre.Scanner) is Defender for Storage in Azure
// (its verdict is a blob index tag); locally a stand-in that recognises
// only the EICAR test string (internal/scanstub), and every status message
// it causes says so.
package airlock
