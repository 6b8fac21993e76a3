//go:build !unix

package childproc

import "os"

// killGroup kills the process pgid alone: process groups are a Unix notion.
func killGroup(pgid int) error {
	p, err := os.FindProcess(pgid)
	if err != nil {
		return err
	}
	return p.Kill()
}
