package tre

// Role is an application role. TRE-level roles come from the token's roles
// claim; workspace-level roles come from assignments kept in the store.
type Role string

// Roles.
const (
	RoleTREAdmin Role = "TREAdmin"
	RoleTREUser  Role = "TREUser"

	RoleWorkspaceOwner      Role = "WorkspaceOwner"
	RoleWorkspaceResearcher Role = "WorkspaceResearcher"
	RoleAirlockManager      Role = "AirlockManager"
)

// TRELevel reports whether r is granted by the token rather than per workspace.
func (r Role) TRELevel() bool { return r == RoleTREAdmin || r == RoleTREUser }

// WorkspaceRoles lists the workspace-level roles in AzureTRE's precedence order.
var WorkspaceRoles = []Role{RoleWorkspaceOwner, RoleWorkspaceResearcher, RoleAirlockManager}

// User is the authenticated caller, as recorded on every change it makes
// (AzureTRE's "user" object on resources, operations and history).
type User struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Roles []string `json:"roles"`
}

// HasRole reports whether the token granted u the TRE-level role r.
func (u User) HasRole(r Role) bool {
	for _, have := range u.Roles {
		if have == string(r) {
			return true
		}
	}
	return false
}
