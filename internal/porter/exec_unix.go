//go:build unix

package porter

import (
	"os"
	"syscall"

	"github.com/tre-go/tre/internal/procgroup"
)

// groupAttr starts porter as the leader of a new process group (porter
// runs docker, terraform and az as children, and a stop must reach them
// too), killed if the agent dies.
func groupAttr() *syscall.SysProcAttr { return procgroup.Attr() }

// terminate asks p's process group to stop.
func terminate(p *os.Process) error { return procgroup.Terminate(p.Pid) }

// kill ends p's process group.
func kill(p *os.Process) error { return procgroup.Kill(p.Pid) }
