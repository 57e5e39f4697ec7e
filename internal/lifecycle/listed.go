package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tre-go/tre/internal/tre"
)

// Listed is a resource of a list as the store keeps it: the fields a list
// filters on and completes its answer with, decoded, and every stored
// member encoded as stored. Decoding each resource of a long list whole,
// properties and all, only for the answer to encode them again was most of
// the list's cost: an answer copies the members it shows instead (a field
// the store keeps for itself is simply not copied).
type Listed struct {
	ID                       string
	ETag                     string
	ResourceType             tre.ResourceType
	DeploymentStatus         tre.Status
	TemplateName             string
	TemplateVersion          string
	WorkspaceID              string
	ParentWorkspaceServiceID string
	OwnerID                  string
	// Members are the stored document's top-level members, in order.
	Members []Member

	doc tre.Document
}

// Member is one top-level member of a stored document.
type Member struct {
	Name  string
	Value json.RawMessage
}

// Member returns the encoded value of the stored member name, nil when the
// document has none.
func (l *Listed) Member(name string) json.RawMessage {
	for _, m := range l.Members {
		if m.Name == name {
			return m.Value
		}
	}
	return nil
}

// Resource decodes the whole resource.
func (l *Listed) Resource() (*tre.Resource, error) {
	r := new(tre.Resource)
	if err := tre.Decode(l.doc, r); err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	return r, nil
}

// Header is the resource without its properties and bookkeeping: what
// deciding on a list entry needs (type, status, template, parents, owner).
func (l *Listed) Header() *tre.Resource {
	return &tre.Resource{ID: l.ID, ETag: l.ETag, ResourceType: l.ResourceType, DeploymentStatus: l.DeploymentStatus, TemplateName: l.TemplateName,
		TemplateVersion: l.TemplateVersion, WorkspaceID: l.WorkspaceID, ParentWorkspaceServiceID: l.ParentWorkspaceServiceID,
		OwnerID: l.OwnerID}
}

// listedOf splits a stored resource into its members.
func listedOf(d tre.Document) (*Listed, error) {
	l := &Listed{ETag: d.ETag, doc: d, Members: make([]Member, 0, 16)}
	err := eachMember(d.Data, func(name string, value []byte) error {
		l.Members = append(l.Members, Member{Name: name, Value: value})
		var dst *string
		switch name {
		case "id":
			if string(value) == `"`+d.ID+`"` {
				l.ID = d.ID // the store's copy: no second one
				return nil
			}
			dst = &l.ID
		case "resourceType":
			if t, ok := knownTypes[string(value)]; ok {
				l.ResourceType = t
				return nil
			}
			dst = (*string)(&l.ResourceType)
		case "deploymentStatus":
			if st, ok := knownStatuses[string(value)]; ok {
				l.DeploymentStatus = st
				return nil
			}
			dst = (*string)(&l.DeploymentStatus)
		case "templateName":
			dst = &l.TemplateName
		case "templateVersion":
			dst = &l.TemplateVersion
		case "workspaceId":
			dst = &l.WorkspaceID
		case "parentWorkspaceServiceId":
			dst = &l.ParentWorkspaceServiceID
		case "ownerId":
			dst = &l.OwnerID
		default:
			return nil
		}
		return decodeString(value, dst)
	})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: resource %s: %w", d.ID, err)
	}
	return l, nil
}

// knownTypes and knownStatuses map encoded values most resources have
// (every type; the statuses a resource rests in) to their constants: a
// list of 10,000 resources does not allocate them 10,000 times. Others are
// decoded as usual.
var knownTypes, knownStatuses = encodedValues(tre.TypeWorkspace, tre.TypeWorkspaceService, tre.TypeUserResource, tre.TypeSharedService),
	encodedValues(tre.StatusDeployed, tre.StatusUpdated, tre.StatusActionSucceeded, tre.StatusDeploymentFailed,
		tre.StatusUpdatingFailed, tre.StatusActionFailed, tre.StatusDeletingFailed, tre.StatusDeleted)

func encodedValues[T ~string](vs ...T) map[string]T {
	out := make(map[string]T, len(vs))
	for _, v := range vs {
		b, _ := json.Marshal(v)
		out[string(b)] = v
	}
	return out
}

// decodeString decodes a JSON string (null leaves dst empty), without
// encoding/json when it has no escape.
func decodeString(v []byte, dst *string) error {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		plain := true
		for _, c := range v[1 : len(v)-1] {
			if c == '\\' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			*dst = string(v[1 : len(v)-1])
			return nil
		}
	}
	if string(v) == "null" {
		return nil
	}
	return json.Unmarshal(v, dst)
}

// HasMember reports whether the encoded object obj has a top-level member
// name (false for what is not an object).
func HasMember(obj []byte, name string) bool {
	return tre.EachMember(obj, func(quoted, _ []byte) error {
		if len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name {
			return errFound
		}
		if bytes.IndexByte(quoted, '\\') < 0 {
			return nil // no escape: spelt otherwise, it is another name
		}
		n, err := memberName(quoted)
		if err == nil && n == name {
			return errFound
		}
		return err
	}) == errFound
}

var errFound = errors.New("lifecycle: member found")

// eachMember is tre.EachMember with each name decoded (the names of
// stored resources interned).
func eachMember(doc []byte, fn func(name string, value []byte) error) error {
	return tre.EachMember(doc, func(quoted, value []byte) error {
		name, err := memberName(quoted)
		if err != nil {
			return err
		}
		return fn(name, value)
	})
}

// memberName decodes a member's name; the names of stored resources are
// not allocated again for each document.
func memberName(quoted []byte) (string, error) {
	switch string(quoted) {
	case `"id"`:
		return "id", nil
	case `"templateName"`:
		return "templateName", nil
	case `"templateVersion"`:
		return "templateVersion", nil
	case `"properties"`:
		return "properties", nil
	case `"isEnabled"`:
		return "isEnabled", nil
	case `"resourceType"`:
		return "resourceType", nil
	case `"deploymentStatus"`:
		return "deploymentStatus", nil
	case `"resourcePath"`:
		return "resourcePath", nil
	case `"resourceVersion"`:
		return "resourceVersion", nil
	case `"user"`:
		return "user", nil
	case `"updatedWhen"`:
		return "updatedWhen", nil
	case `"workspaceId"`:
		return "workspaceId", nil
	case `"parentWorkspaceServiceId"`:
		return "parentWorkspaceServiceId", nil
	case `"ownerId"`:
		return "ownerId", nil
	case `"lastOperationId"`:
		return "lastOperationId", nil
	case `"history"`:
		return "history", nil
	}
	var name string
	err := decodeString(quoted, &name)
	return name, err
}
