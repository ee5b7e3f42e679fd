//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package redresssql

import "net"

// peek cannot look at the socket on this platform: the connection is taken as
// alive, as without the check.
func peek(net.Conn) peekResult { return peekAlive }
