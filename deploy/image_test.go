package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// The time the test stamps into the image (SOURCE_DATE_EPOCH).
const (
	imageEpoch   = 1700000000
	imageCreated = "2023-11-14T22:13:20Z"
	// imageMaxPulled is the target, 20 MB, for what a node pulls:
	// the gzip-compressed layer.
	imageMaxPulled = 20_000_000
	// imageMaxSize bounds the image's unpacked size. The binary alone was
	// 18 MB until OpenTelemetry's OTLP exporters (protobuf and gRPC, which
	// even the HTTP exporter links) added 11.5 MB, and libphonenumber's
	// metadata (the phone numbers Kratos merges, read as Kratos reads them)
	// 3.5 MB; with the security centre (SMTP client, alert mails, events,
	// pages) the image is 36.4 MB; this guards against more.
	imageMaxSize = 38_000_000
)

// The image's files: nothing but these (and their directories).
var imageFiles = map[string]int64{ // path → mode
	"usr/bin/hera":                      0o755,
	"etc/ssl/certs/ca-certificates.crt": 0o644,
	"etc/passwd":                        0o644,
	"etc/group":                         0o644,
	"usr/share/doc/hera/LICENSE":        0o644,
	"usr/share/doc/hera/NOTICES":        0o644,
}

// TestImage builds the container image with scripts/image.sh (this
// machine's architecture only), checks what it holds and how it is
// configured, builds it again to check the build is reproducible, then runs
// the binary taken out of it, and the image itself, against real Kratos and
// Hydra.
func TestImage(t *testing.T) {
	rt := containerRuntime(t)
	root := stacktest.RepoRoot(t)
	name := fmt.Sprintf("localhost/hera-imagetest-%d", os.Getpid())
	const version = "test"
	ref := name + ":" + version + "-" + runtime.GOARCH
	t.Cleanup(func() { _ = exec.Command(rt, "rmi", "-f", ref, name+":"+version).Run() })
	build := func() {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(filepath.Join(root, "scripts", "image.sh"))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "IMAGE="+name, "VERSION="+version, "ARCHES="+runtime.GOARCH,
			"OUT="+t.TempDir(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", imageEpoch), "CONTAINER_RUNTIME="+rt)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/image.sh: %v\n%s", err, out)
		}
		t.Logf("scripts/image.sh with %s built %s in %v", rt, ref, time.Since(start).Round(time.Millisecond))
	}
	build()

	first := inspectImage(t, rt, ref)
	checkImageConfig(t, first)
	archive := saveImage(t, rt, ref)
	if n := pulledSize(t, archive); n >= imageMaxPulled {
		t.Errorf("compressed layers %d bytes, want under %d", n, imageMaxPulled)
	} else {
		t.Logf("image: %d bytes unpacked, %d bytes compressed (pulled)", first.Size, n)
	}
	files := imageLayerFiles(t, archive)
	checkImageFiles(t, files)
	checkNotices(t, files)

	// Reproducible: the same sources, Go, CA bundle and SOURCE_DATE_EPOCH
	// give the same image, built afresh.
	if out, err := exec.Command(rt, "rmi", "-f", ref, name+":"+version).CombinedOutput(); err != nil {
		t.Fatalf("%s rmi: %v\n%s", rt, err, out)
	}
	build()
	second := inspectImage(t, rt, ref)
	if first.ID != second.ID {
		t.Errorf("two builds gave different image IDs: %s and %s", first.ID, second.ID)
	}
	if first.Digest != second.Digest {
		t.Errorf("two builds gave different digests: %s and %s", first.Digest, second.Digest)
	}
	if rt == "podman" {
		// podman's docker-archive has fixed times too: byte for byte the same.
		if a, b := fileSHA256(t, archive), fileSHA256(t, saveImage(t, rt, ref)); a != b {
			t.Errorf("podman save of the two builds differ: %s and %s", a, b)
		}
	}
	t.Logf("image %s: id %s, digest %s, %d bytes", ref, first.ID, first.Digest, first.Size)

	bin := filepath.Join(t.TempDir(), "hera")
	if err := os.WriteFile(bin, files["usr/bin/hera"].body, 0o755); err != nil {
		t.Fatal(err)
	}
	checkStaticBinary(t, bin)

	t.Run("Help", func(t *testing.T) {
		out, err := exec.Command(bin, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("hera --help: %v\n%s", err, out)
		}
		for _, want := range []string{"Usage: hera", "HERA_LISTEN", "KRATOS_PUBLIC_URL"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("hera --help does not show %q:\n%s", want, out)
			}
		}
	})

	t.Run("Version", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "hera "+version {
			t.Errorf("hera --version: %q %v, want the stamped %q", out, err, version)
		}
	})

	t.Run("AloneAlive", func(t *testing.T) {
		dead := "http://" + freeAddr(t)
		base := startBinary(t, bin, map[string]string{"KRATOS_PUBLIC_URL": dead, "KRATOS_ADMIN_URL": dead})
		expectStatus(t, base+"/health/alive", http.StatusOK)
		expectStatus(t, base+"/health/ready", http.StatusServiceUnavailable)
	})

	e := stacktest.Start(t, stacktest.Options{Hydra: true})
	stackEnv := map[string]string{
		"HERA_PUBLIC_URL":   e.HeraURL,
		"KRATOS_PUBLIC_URL": e.Kratos.PublicURL,
		"KRATOS_ADMIN_URL":  e.Kratos.AdminURL,
		"HYDRA_ADMIN_URL":   e.Hydra.AdminURL,
	}

	t.Run("BinaryReady", func(t *testing.T) {
		env := maps.Clone(stackEnv)
		// Where Kratos and Hydra send browsers: the test stack's Hera.
		env["HERA_LISTEN"] = e.HeraListener.Addr().String()
		e.HeraListener.Close()
		base := startBinary(t, bin, env)
		expectStatus(t, base+"/health/ready", http.StatusOK)
		// A page: Hera starts a login flow at Kratos.
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "/self-service/login/browser") {
			t.Errorf("GET /login: %d to %q, want 303 to Kratos's login flow", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("ContainerReadOnly", func(t *testing.T) {
		env := maps.Clone(stackEnv)
		env["HERA_LISTEN"] = freeAddr(t)
		runContainer(t, rt, ref, env)
		base := "http://" + env["HERA_LISTEN"]
		expectStatus(t, base+"/health/alive", http.StatusOK)
		expectStatus(t, base+"/health/ready", http.StatusOK)
	})
}

// containerRuntime finds podman, or docker with a daemon. Without either the
// test skips, except in CI (CI set), where it fails.
func containerRuntime(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err == nil {
		return "podman"
	}
	if _, err := exec.LookPath("docker"); err == nil {
		if exec.Command("docker", "info").Run() == nil {
			return "docker"
		}
	}
	msg := "neither podman nor a running docker found: install podman (apt-get install podman) to build and test the container image"
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

type imageInfo struct {
	ID     string `json:"Id"`
	Digest string // podman only
	Size   int64
	Os     string
	Arch   string `json:"Architecture"`
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
}

func inspectImage(t *testing.T, rt, ref string) imageInfo {
	t.Helper()
	out, err := exec.Command(rt, "image", "inspect", ref).Output()
	if err != nil {
		t.Fatalf("%s image inspect %s: %v", rt, ref, err)
	}
	var infos []imageInfo
	if err := json.Unmarshal(out, &infos); err != nil || len(infos) != 1 {
		t.Fatalf("%s image inspect: %v\n%s", rt, err, out)
	}
	return infos[0]
}

func checkImageConfig(t *testing.T, img imageInfo) {
	t.Helper()
	c := img.Config
	if img.Os != "linux" || img.Arch != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", img.Os, img.Arch, runtime.GOARCH)
	}
	if c.User != "65532:65532" && c.User != "65532" {
		t.Errorf("user %q, want 65532", c.User)
	}
	if strings.Join(c.Entrypoint, " ") != "/usr/bin/hera" || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/usr/bin/hera] and no cmd", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["4455/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 4455/tcp", c.ExposedPorts)
	}
	var listen string
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "HERA_LISTEN="); ok {
			listen = v
		}
	}
	if listen != "0.0.0.0:4455" {
		t.Errorf("HERA_LISTEN=%q, want 0.0.0.0:4455 (env %q)", listen, c.Env)
	}
	if img.Size <= 0 || img.Size >= imageMaxSize {
		t.Errorf("image size %d bytes, want under %d", img.Size, imageMaxSize)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  "test",
		"org.opencontainers.image.created":  imageCreated,
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, c.Labels[k], v)
		}
	}
	for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.revision"} {
		if c.Labels[k] == "" {
			t.Errorf("label %s missing (labels %v)", k, c.Labels)
		}
	}
}

// saveImage writes the image as a docker-archive (podman's and docker's
// common format) and returns its path.
func saveImage(t *testing.T, rt, ref string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if out, err := exec.Command(rt, "save", "-o", p, ref).CombinedOutput(); err != nil {
		t.Fatalf("%s save: %v\n%s", rt, err, out)
	}
	return p
}

type imageFile struct {
	hdr  *tar.Header
	body []byte
}

// imageLayers returns the layers of a saved image, in order, as stored.
func imageLayers(t *testing.T, archive string) [][]byte {
	t.Helper()
	outer := readTar(t, archive)
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(outer["manifest.json"].body, &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	var layers [][]byte
	for _, l := range manifest[0].Layers {
		f, ok := outer[path.Clean(l)]
		for ok && f.hdr.Typeflag == tar.TypeSymlink {
			f, ok = outer[path.Join(path.Dir(path.Clean(l)), f.hdr.Linkname)]
		}
		if !ok {
			t.Fatalf("layer %s not in the archive", l)
		}
		layers = append(layers, f.body)
	}
	return layers
}

// pulledSize is what a registry would store and a node pull: the image's
// layers gzip-compressed (as podman push and docker push compress them).
func pulledSize(t *testing.T, archive string) int64 {
	t.Helper()
	var n int64
	for _, l := range imageLayers(t, archive) {
		if bytes.HasPrefix(l, []byte{0x1f, 0x8b}) {
			n += int64(len(l))
			continue
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(l); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		n += int64(buf.Len())
	}
	return n
}

// imageLayerFiles reads the layers of a saved image, in order, into one file
// list (whiteouts would be errors: the image has one layer).
func imageLayerFiles(t *testing.T, archive string) map[string]imageFile {
	t.Helper()
	files := map[string]imageFile{}
	for _, l := range imageLayers(t, archive) {
		var r io.Reader = bytes.NewReader(l)
		if bytes.HasPrefix(l, []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		for name, f := range readTarFrom(t, r) {
			files[name] = f
		}
	}
	return files
}

func checkImageFiles(t *testing.T, files map[string]imageFile) {
	t.Helper()
	dirs := map[string]bool{}
	for p := range imageFiles {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for name, f := range files {
		h := f.hdr
		switch {
		case h.Typeflag == tar.TypeDir && dirs[name]:
			if h.Mode&0o7777 != 0o755 {
				t.Errorf("%s/: mode %o, want 755", name, h.Mode&0o7777)
			}
		case h.Typeflag == tar.TypeReg && imageFiles[name] != 0:
			if h.Mode&0o7777 != imageFiles[name] {
				t.Errorf("%s: mode %o, want %o", name, h.Mode&0o7777, imageFiles[name])
			}
		default:
			t.Errorf("unexpected entry in the image: %s (type %c)", name, h.Typeflag)
			continue
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: owner %d:%d, want root", name, h.Uid, h.Gid)
		}
		if !h.ModTime.Equal(time.Unix(imageEpoch, 0)) {
			t.Errorf("%s: time %v, want SOURCE_DATE_EPOCH %v", name, h.ModTime.UTC(), time.Unix(imageEpoch, 0).UTC())
		}
	}
	for p := range imageFiles {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing from the image", p)
		}
	}
	for _, want := range []struct{ file, line string }{
		{"etc/passwd", "nonroot:x:65532:65532:"},
		{"etc/group", "nonroot:x:65532:"},
	} {
		if !hasLinePrefix(files[want.file].body, want.line) {
			t.Errorf("%s has no %q line:\n%s", want.file, want.line, files[want.file].body)
		}
	}
	host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["etc/ssl/certs/ca-certificates.crt"].body, host) {
		t.Error("the image's CA bundle is not Debian's /etc/ssl/certs/ca-certificates.crt")
	}
}

// checkNotices checks the image ships Hera's licence and the licence
// notices of the binary next to it: the main module, every module `go
// version -m` lists for the binary (by path and version, as it lists them)
// and Go itself, each with a non-empty licence text.
func checkNotices(t *testing.T, files map[string]imageFile) {
	t.Helper()
	root := stacktest.RepoRoot(t)
	license, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["usr/share/doc/hera/LICENSE"].body, license) {
		t.Error("usr/share/doc/hera/LICENSE is not the repository's LICENSE")
	}
	if !bytes.HasPrefix(license, []byte("                                 Apache License\n                           Version 2.0, January 2004\n")) {
		t.Error("LICENSE is not the Apache License 2.0")
	}
	info, err := buildinfo.Read(bytes.NewReader(files["usr/bin/hera"].body))
	if err != nil {
		t.Fatal(err)
	}
	sections := noticeSections(files["usr/share/doc/hera/NOTICES"].body)
	want := []string{info.Main.Path + " " + info.Main.Version}
	for _, m := range info.Deps {
		line := m.Path + " " + m.Version
		if r := m.Replace; r != nil {
			line += " => " + r.Path + " " + r.Version
		}
		want = append(want, strings.TrimSpace(line))
	}
	want = append(want, "std "+info.GoVersion)
	if len(want) < 30 {
		t.Errorf("only %d modules in the binary's build information", len(want))
	}
	for _, m := range want {
		texts, ok := sections[m]
		if !ok {
			t.Errorf("NOTICES has no section for %s", m)
			continue
		}
		if len(texts) == 0 {
			t.Errorf("NOTICES: %s has no licence file", m)
		}
		for name, text := range texts {
			if len(strings.TrimSpace(text)) < 100 {
				t.Errorf("NOTICES: %s's %s is %d bytes: %q", m, name, len(text), text)
			}
		}
		delete(sections, m)
	}
	for m := range sections {
		t.Errorf("NOTICES has a section for %s, which the binary does not contain", m)
	}
	if !strings.Contains(noticeText(files["usr/share/doc/hera/NOTICES"].body, info.Main.Path+" "+info.Main.Version), "Apache License") {
		t.Error("NOTICES does not give Hera's own licence")
	}
}

// noticeSections reads NOTICES: for each module line (framed by lines of
// '='), its licence files (each after a "--- <name>" line) and their text.
func noticeSections(b []byte) map[string]map[string]string {
	rule := strings.Repeat("=", 80)
	lines := strings.Split(string(b), "\n")
	out := map[string]map[string]string{}
	var module, file string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == rule && i+2 < len(lines) && lines[i+2] == rule {
			module, file = lines[i+1], ""
			out[module] = map[string]string{}
			i += 2
			continue
		}
		if module == "" {
			continue
		}
		if name, ok := strings.CutPrefix(l, "--- "); ok {
			file = name
			continue
		}
		if file != "" {
			out[module][file] += l + "\n"
		}
	}
	return out
}

// noticeText is one module's licence texts, concatenated.
func noticeText(b []byte, module string) string {
	var s strings.Builder
	for _, text := range noticeSections(b)[module] {
		s.WriteString(text)
	}
	return s.String()
}

// checkStaticBinary checks the binary was built as scripts/image.sh says:
// statically linked, without cgo, with -trimpath.
func checkStaticBinary(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("hera is dynamically linked (program header %v)", p.Type)
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux", "GOARCH": runtime.GOARCH} {
		if settings[k] != v {
			t.Errorf("hera built with %s=%q, want %q", k, settings[k], v)
		}
	}
	if info.GoVersion != runtime.Version() {
		t.Errorf("hera built with %s, the test runs %s: scripts/image.sh uses this machine's Go", info.GoVersion, runtime.Version())
	}
}

// startBinary runs the binary with env only (no inherited environment) and
// returns its base URL once /health/alive answers; it is stopped with
// SIGTERM when the test ends and must exit cleanly.
func startBinary(t *testing.T, bin string, env map[string]string) string {
	t.Helper()
	if env["HERA_LISTEN"] == "" {
		env["HERA_LISTEN"] = freeAddr(t)
	}
	env["HERA_LOG_FLUSH_INTERVAL"] = "0"
	cmd := exec.Command(bin)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hera did not exit cleanly on SIGTERM: %v\n%s", err, out.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("hera did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("hera's output:\n%s", out.String())
		}
	})
	base := "http://" + env["HERA_LISTEN"]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(base + "/health/alive"); err == nil {
			res.Body.Close()
			return base
		}
		select {
		case err := <-done:
			t.Fatalf("hera exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hera not alive after 10s:\n%s", out.String())
		}
	}
}

// runContainer runs the image read-only on the host's network and waits
// until /health/alive answers. When the runtime cannot start containers on
// this machine (podman's default crun refuses hybrid cgroups, and a sandbox
// may refuse raising rlimits), podman is tried once more with runc and
// modest rlimits; if that fails too the test skips, naming the reasons.
func runContainer(t *testing.T, rt, ref string, env map[string]string) {
	t.Helper()
	ctr := fmt.Sprintf("hera-imagetest-%d", os.Getpid())
	attempts := [][]string{{"run"}}
	if _, err := exec.LookPath("runc"); err == nil && rt == "podman" {
		attempts = append(attempts, []string{"--runtime", "runc", "run", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"})
	}
	var reasons []string
	started := false
	for _, a := range attempts {
		args := append(slices.Clone(a), "-d", "--rm", "--name", ctr, "--read-only", "--network", "host")
		for k, v := range env {
			args = append(args, "-e", k+"="+v)
		}
		args = append(args, ref)
		out, err := exec.Command(rt, args...).CombinedOutput()
		if err == nil {
			started = true
			if len(reasons) > 0 {
				t.Logf("started with %s %s after:\n%s", rt, strings.Join(a, " "), strings.Join(reasons, "\n"))
			}
			break
		}
		reasons = append(reasons, fmt.Sprintf("%s %s: %v: %s", rt, strings.Join(a, " "), err, bytes.TrimSpace(out)))
		_ = exec.Command(rt, "rm", "-f", ctr).Run()
	}
	if !started {
		t.Skipf("%s cannot run containers here:\n%s", rt, strings.Join(reasons, "\n"))
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(rt, "logs", ctr).CombinedOutput()
			t.Logf("container output:\n%s", out)
		}
		// SIGTERM, then a clean exit within Hera's shutdown timeout.
		if out, err := exec.Command(rt, "stop", "-t", "20", ctr).CombinedOutput(); err != nil {
			t.Errorf("%s stop: %v\n%s", rt, err, out)
		}
		_ = exec.Command(rt, "rm", "-f", ctr).Run()
	})
	base := "http://" + env["HERA_LISTEN"]
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(base + "/health/alive"); err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container's Hera is not alive after 15s")
		}
	}
	// The process runs as 65532, whatever the runtime.
	pid, err := exec.Command(rt, "inspect", "--format", "{{.State.Pid}}", ctr).Output()
	if err != nil {
		t.Fatalf("%s inspect: %v", rt, err)
	}
	status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") && (f[1] != "65532" || f[2] != "65532") {
			t.Errorf("container process %s %v, want 65532", f[0], f[1:])
		}
	}
}

func expectStatus(t *testing.T, url string, want int) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Errorf("GET %s: %d %s, want %d", url, res.StatusCode, body, want)
	}
}

func readTar(t *testing.T, p string) map[string]imageFile {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readTarFrom(t, bufio.NewReader(f))
}

func readTarFrom(t *testing.T, r io.Reader) map[string]imageFile {
	t.Helper()
	files := map[string]imageFile{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if _, dup := files[name]; dup {
			t.Errorf("%s appears twice", name)
		}
		files[name] = imageFile{h, body}
	}
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hasLinePrefix(b []byte, prefix string) bool {
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// freeAddr returns a loopback address nothing listens on (a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer is the stack test kit's goroutine-safe buffer.
type lockedBuffer = stacktest.Buffer
