package api

import (
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

var pathParam = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?\}`) })

// OpenAPI builds the OpenAPI 3 document of the API from the route table:
// every route, its path parameters, who may call it, its request body and
// its answers. Being generated from the same table that routes requests,
// it cannot drift from the code.
func (a *API) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range a.Routes() {
		if rt.Trigger {
			continue
		}
		p := openAPIPath(rt.Pattern)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.Method)] = operationDoc(rt)
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "TRE control plane API",
			"version":     a.Metadata.APIVersion,
			"description": "AzureTRE-compatible API. Errors are application/problem+json; every response carries X-Request-Id.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
			"schemas": map[string]any{"Problem": schemaOf(reflect.TypeOf(Problem{}))},
		},
	}
}

// openAPIPath turns a net/http pattern into an OpenAPI path.
func openAPIPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	return pathParam().ReplaceAllString(p, "{$1}")
}

func operationDoc(rt Route) map[string]any {
	op := map[string]any{
		"summary":     rt.Summary,
		"operationId": operationID(rt),
		"responses":   responsesDoc(rt),
	}
	var params []any
	for _, m := range pathParam().FindAllStringSubmatch(rt.Pattern, -1) {
		schema := map[string]any{"type": "string"}
		if strings.HasSuffix(m[1], "_id") {
			schema["format"] = "uuid"
		}
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Access.Public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearer": []any{}}}
		var roles []string
		for _, r := range rt.Access.TRE {
			roles = append(roles, string(r))
		}
		for _, r := range rt.Access.Workspace {
			roles = append(roles, string(r)+" (in the workspace)")
		}
		op["x-roles"] = roles
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.Request))}},
		}
	}
	return op
}

func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, seg := range strings.Split(openAPIPath(rt.Pattern), "/") {
		seg = strings.Trim(seg, "{}")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func responsesDoc(rt Route) map[string]any {
	problem := map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}
	out := map[string]any{
		strconv.Itoa(rt.Status): map[string]any{"description": http.StatusText(rt.Status), "content": map[string]any{"application/json": map[string]any{}}},
	}
	codes := []int{http.StatusInternalServerError, http.StatusServiceUnavailable}
	if !rt.Access.Public {
		codes = append(codes, http.StatusUnauthorized, http.StatusForbidden)
	}
	if strings.Contains(rt.Pattern, "{") {
		codes = append(codes, http.StatusBadRequest, http.StatusNotFound)
	}
	if rt.Request != nil {
		codes = append(codes, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if rt.Method == "PATCH" && strings.Contains(rt.Pattern, "_id}") {
		codes = append(codes, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired)
	}
	if rt.Method == "POST" || rt.Method == "DELETE" {
		codes = append(codes, http.StatusConflict)
	}
	sort.Ints(codes)
	for _, c := range codes {
		out[strconv.Itoa(c)] = map[string]any{"description": http.StatusText(c), "content": problem}
	}
	return out
}

// schemaOf describes a Go type as a JSON Schema (OpenAPI 3.0 dialect),
// following the encoding/json tags.
// A type whose JSON is not its fields' says so itself (OpenAPISchema).
func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := reflect.Zero(t).Interface().(interface{ OpenAPISchema() map[string]any }); ok {
		return s.OpenAPISchema()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, a.OpenAPI())
	return nil
}
