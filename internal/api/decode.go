package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

func asError(err error, target **tre.Error) bool { return errors.As(err, target) }

// decodeJSON reads the request body into v. The body must be one JSON value
// of at most a.maxBody bytes, sent as JSON (or without a Content-Type). With
// strict, members that v does not define are rejected (AzureTRE forbids
// extra members in PATCH bodies); otherwise they are ignored (registration
// bodies carry the whole `porter explain` output).
// Returns CodeInvalid, CodeTooLarge, CodeUnsupportedMedia.
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	return a.readJSON(w, r, v, strict, true)
}

// readJSON is decodeJSON; checkStrings holds strings to checkBody's limits
// (a Functions invocation carries a whole message as one string, and is
// not given to a bundle as such).
func (a *API) readJSON(w http.ResponseWriter, r *http.Request, v any, strict, checkStrings bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return tre.Errorf(tre.CodeUnsupportedMedia, "Content-Type must be application/json, not %q", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody()))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return tre.Errorf(tre.CodeTooLarge, "The request body is larger than the limit of %d bytes", tooLarge.Limit)
	}
	if err != nil {
		return tre.WrapError(tre.CodeInvalid, err, "The request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return tre.Errorf(tre.CodeInvalid, "The request body is empty: a JSON object is required")
	}
	if err := checkBody(body, checkStrings); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return tre.Errorf(tre.CodeInvalid, "The request body has data after its JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a CodeInvalid error that names the
// field and the position when the decoder knows them.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return tre.Errorf(tre.CodeInvalid, "The request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return tre.Errorf(tre.CodeInvalid, "The request body must be a JSON %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
		}
		return tre.FieldErrorf(tre.CodeInvalid, typ.Field, "%s must be a JSON %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tre.Errorf(tre.CodeInvalid, "The request body is not valid JSON: it ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return tre.FieldErrorf(tre.CodeInvalid, field, "unknown member %q in the request body", field)
	}
	return tre.WrapError(tre.CodeInvalid, err, "The request body is not valid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int64", "float64", "uint", "int32":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

// queryBool reads an optional boolean query parameter.
// Returns CodeInvalid naming the parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	switch strings.ToLower(v) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, tre.FieldErrorf(tre.CodeInvalid, name, "query parameter %s must be true or false, not %q", name, v)
}
