package fpm

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAccessProblems: who can connect to a socket, from mode, owner,
// group, ACL, the user's groups and the directories above it; and the fix.
func TestAccessProblems(t *testing.T) {
	const nobody, nogroup, www, daemon = 65534, 65534, 33, 1
	root := dirAccess{path: "/", fileAccess: fileAccess{mode: 0o755}}
	run := dirAccess{path: "/run", fileAccess: fileAccess{mode: 0o755}}
	sockDir := func(mode os.FileMode, uid, gid uint32) dirAccess {
		return dirAccess{path: "/run/gofpm", fileAccess: fileAccess{uid: uid, gid: gid, mode: mode}}
	}
	okDirs := []dirAccess{root, run, sockDir(0o755, 0, 0)}
	sock := func(mode os.FileMode, uid, gid uint32) fileAccess { return fileAccess{uid: uid, gid: gid, mode: mode} }
	withACL := func(mode os.FileMode, users, groups []uint32) fileAccess {
		f := fileAccess{mode: mode, acl: socketACL(mode, users, groups)}
		f.mode = f.mode&^0o070 | 0o060 // the mask, as the kernel shows it
		return f
	}
	cases := []struct {
		name     string
		sock     fileAccess
		aclUsers []string
		dirs     []dirAccess
		uid      uint32
		gids     []uint32
		want     []string // substrings, one per problem; none: allowed
	}{
		{"other, 0660 root:root", sock(0o660, 0, 0), nil, okDirs, nobody, []uint32{nogroup},
			[]string{`mode 0660 owner root:root; fix: listen_group = "nogroup"`}},
		{"other, 0600", sock(0o600, 0, 0), nil, okDirs, nobody, []uint32{nogroup},
			[]string{`mode 0600 owner root:root; fix: listen_group = "nogroup" and listen_mode = "0660"`}},
		{"other, 0666", sock(0o666, 0, 0), nil, okDirs, nobody, []uint32{nogroup}, nil},
		{"group member, 0660", sock(0o660, 0, www), nil, okDirs, nobody, []uint32{nogroup, www}, nil},
		{"group member, 0640", sock(0o640, 0, www), nil, okDirs, nobody, []uint32{nogroup, www},
			[]string{`fix: listen_mode = "0660"`}},
		{"owner, 0660", sock(0o660, nobody, 0), nil, okDirs, nobody, []uint32{nogroup}, nil},
		{"owner, 0460", sock(0o460, nobody, 0), nil, okDirs, nobody, []uint32{nogroup},
			[]string{`fix: listen_mode = "0660"`}},
		{"owner without w though the group has it", sock(0o460, nobody, nogroup), nil, okDirs, nobody, []uint32{nogroup},
			[]string{`fix: listen_mode = "0660"`}},
		{"root always", sock(0o600, nobody, nogroup), nil, okDirs, 0, []uint32{0}, nil},
		{"acl user", withACL(0o600, []uint32{nobody}, nil), []string{"nobody"}, okDirs, nobody, []uint32{nogroup}, nil},
		{"acl, another user", withACL(0o600, []uint32{nobody}, nil), []string{"nobody"}, okDirs, daemon, []uint32{daemon},
			[]string{`acl users ["nobody"]; fix: listen_acl_users = ["nobody", "www-data"]`}},
		{"acl group", withACL(0o600, nil, []uint32{www}), nil, okDirs, nobody, []uint32{nogroup, www}, nil},
		{"acl: the owning group gets nothing from the mask", withACL(0o600, []uint32{daemon}, nil), []string{"daemon"}, okDirs, nobody, []uint32{0},
			[]string{`fix: listen_acl_users = ["daemon", "www-data"]`}},
		{"directory 0700", sock(0o666, 0, 0), nil, []dirAccess{root, run, sockDir(0o700, 0, 0)}, nobody, []uint32{nogroup},
			[]string{"directory /run/gofpm is 0700: chmod o+x /run/gofpm"}},
		{"directory 0700, and the socket", sock(0o660, 0, 0), nil, []dirAccess{root, run, sockDir(0o700, 0, 0)}, nobody, []uint32{nogroup},
			[]string{"directory /run/gofpm is 0700: chmod o+x /run/gofpm", `fix: listen_group = "nogroup"`}},
		{"directory 0750, group member", sock(0o666, 0, 0), nil, []dirAccess{root, run, sockDir(0o750, 0, www)}, nobody, []uint32{www}, nil},
		{"directory 0700, group member", sock(0o666, 0, 0), nil, []dirAccess{root, run, sockDir(0o700, 0, www)}, nobody, []uint32{www},
			[]string{"chmod g+x /run/gofpm"}},
		{"directory 0600 owned by the user", sock(0o666, 0, 0), nil, []dirAccess{root, run, sockDir(0o600, nobody, 0)}, nobody, []uint32{nogroup},
			[]string{"directory /run/gofpm is 0600: chmod u+x /run/gofpm"}},
		{"directory with an ACL that denies", sock(0o666, 0, 0), nil, []dirAccess{root, run,
			{path: "/run/gofpm", fileAccess: fileAccess{mode: 0o750, acl: aclNormalize([]aclEntry{
				{aclUserObj, 7, aclUndefinedID}, {aclGroupObj, 5, aclUndefinedID}, {aclOther, 0, aclUndefinedID},
				{aclUser, 0, nobody}, {aclMask, 5, aclUndefinedID}})}}}, nobody, []uint32{nogroup},
			[]string{"directory /run/gofpm is 0750 with an ACL: setfacl -m u:www-data:x /run/gofpm"}},
		{"directory with an ACL that allows", sock(0o666, 0, 0), nil, []dirAccess{root, run,
			{path: "/run/gofpm", fileAccess: fileAccess{mode: 0o750, acl: aclNormalize([]aclEntry{
				{aclUserObj, 7, aclUndefinedID}, {aclGroupObj, 5, aclUndefinedID}, {aclOther, 0, aclUndefinedID},
				{aclUser, 1, nobody}, {aclMask, 5, aclUndefinedID}})}}}, nobody, []uint32{nogroup}, nil},
		{"missing directory", sock(0o666, 0, 0), nil, []dirAccess{root, run, {path: "/run/gofpm", missing: true}}, nobody, []uint32{nogroup},
			[]string{"directory /run/gofpm does not exist"}},
	}
	for _, c := range cases {
		q := accessQuery{path: "/run/gofpm/www.sock", sock: c.sock, aclUsers: c.aclUsers, dirs: c.dirs,
			uid: c.uid, gids: c.gids, userName: "www-data", userGroup: "nogroup", ownerName: "root", groupName: "root"}
		if c.sock.uid == nobody {
			q.ownerName = "nobody"
		}
		got := q.problems()
		if len(got) != len(c.want) {
			t.Errorf("%s: problems %q, want %d matching %q", c.name, got, len(c.want), c.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], c.want[i]) {
				t.Errorf("%s: problem %q lacks %q", c.name, got[i], c.want[i])
			}
		}
	}
}

// TestAccessProblemsGroupSet: with listen_group configured, the fix keeps
// it and adds the user to that group.
func TestAccessProblemsGroupSet(t *testing.T) {
	dirs := []dirAccess{{path: "/", fileAccess: fileAccess{mode: 0o755}}}
	for _, c := range []struct {
		mode os.FileMode
		want string
	}{
		{0o660, "mode 0660 owner root:www-data; fix: usermod -aG www-data nobody (then restart what runs as nobody)"},
		{0o600, `mode 0600 owner root:www-data; fix: usermod -aG www-data nobody and listen_mode = "0660"`},
	} {
		q := accessQuery{path: "/www.sock", sock: fileAccess{uid: 0, gid: 33, mode: c.mode}, groupSet: true, dirs: dirs,
			uid: 65534, gids: []uint32{65534}, userName: "nobody", userGroup: "nogroup", ownerName: "root", groupName: "www-data"}
		if got := q.problems(); len(got) != 1 || got[0] != c.want {
			t.Errorf("mode %04o: %q, want %q", c.mode, got, c.want)
		}
	}
}

// TestSocketACLEncoding: php-fpm's ACL for a socket, in the kernel's
// format, round-trips and is sorted with a mask.
func TestSocketACLEncoding(t *testing.T) {
	acl := socketACL(0o600, []uint32{65534, 33, 65534}, []uint32{100})
	want := []aclEntry{
		{aclUserObj, 6, aclUndefinedID},
		{aclUser, 6, 33},
		{aclUser, 6, 65534},
		{aclGroupObj, 0, aclUndefinedID},
		{aclGroup, 6, 100},
		{aclMask, 6, aclUndefinedID},
		{aclOther, 0, aclUndefinedID},
	}
	if !slices.Equal(acl, want) {
		t.Fatalf("socketACL = %v\nwant %v", acl, want)
	}
	b := aclEncode(acl)
	if len(b) != 4+8*len(want) || b[0] != 2 || b[4] != aclUserObj || b[12] != aclUser || b[16] != 33 {
		t.Fatalf("encoding % x", b)
	}
	back, err := aclDecode(b)
	if err != nil || !slices.Equal(back, want) {
		t.Fatalf("decode: %v %v", back, err)
	}
	if _, err := aclDecode(b[:7]); err == nil {
		t.Fatal("a truncated attribute decoded")
	}
	if acl := socketACL(0o640, nil, nil); len(acl) != 3 {
		t.Fatalf("no named entries, no mask: %v", acl)
	}
}

// TestClientFilter attaches the listen_allowed_clients socket filter to
// real loopback listeners: IPv4, IPv6 and an IPv4 client of a dual-stack
// socket. A dropped client's connect never completes.
func TestClientFilter(t *testing.T) {
	try := func(network, laddr, src string, allowed []string) bool {
		t.Helper()
		var lc net.ListenConfig
		lc.SetMultipathTCP(false) // MPTCP sockets take no socket filter (the master's are plain TCP)
		ln, err := lc.Listen(context.Background(), network, laddr)
		if err != nil {
			t.Skipf("listen %s %s: %v", network, laddr, err)
		}
		defer ln.Close()
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var addrs []netip.Addr
		for _, s := range allowed {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		if err := setAllowedClients(f, addrs); err != nil {
			t.Fatal(err)
		}
		ap := netip.MustParseAddrPort(ln.Addr().String())
		target := netip.AddrPortFrom(netip.MustParseAddr(strings.Split(src, "|")[1]), ap.Port())
		d := net.Dialer{Timeout: 500 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.ParseIP(strings.Split(src, "|")[0])}}
		c, err := d.DialContext(context.Background(), "tcp", target.String())
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	cases := []struct {
		network, laddr, src string // src: "local|remote"
		allowed             []string
		want                bool
	}{
		{"tcp4", "127.0.0.1:0", "127.0.0.1|127.0.0.1", []string{"127.0.0.1"}, true},
		{"tcp4", "127.0.0.1:0", "127.0.0.2|127.0.0.1", []string{"127.0.0.1"}, false},
		{"tcp4", "127.0.0.1:0", "127.0.0.2|127.0.0.1", []string{"127.0.0.1", "::1", "127.0.0.2"}, true},
		{"tcp4", "127.0.0.1:0", "127.0.0.2|127.0.0.1", nil, true}, // no list: filter removed
		{"tcp6", "[::1]:0", "::1|::1", []string{"::1"}, true},
		{"tcp6", "[::1]:0", "::1|::1", []string{"127.0.0.1", "::2"}, false},
		{"tcp", "[::]:0", "127.0.0.1|127.0.0.1", []string{"127.0.0.1"}, true},
		{"tcp", "[::]:0", "127.0.0.2|127.0.0.1", []string{"127.0.0.1"}, false},
		{"tcp", "[::]:0", "127.0.0.1|127.0.0.1", []string{"::ffff:127.0.0.1"}, true},
	}
	for _, c := range cases {
		if got := try(c.network, c.laddr, c.src, c.allowed); got != c.want {
			t.Errorf("%s %s from %s, allowed %v: connected %v, want %v", c.network, c.laddr, c.src, c.allowed, got, c.want)
		}
	}
}

// TestListenUnixLongPath: a socket path of the maximum length, too long
// for a temporary name next to it, is bound through /proc/self/fd and
// still appears with its mode.
func TestListenUnixLongPath(t *testing.T) {
	dir, err := os.MkdirTemp("", "gofpm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := dir + "/" + strings.Repeat("s", maxUnixPath-len(dir)-1)
	f, err := listenUnix(path, 16, socketPerms{mode: 0o640, own: socketOwner{-1, -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o640 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left in %s: %v", dir, ents)
	}
}
