package deploy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// ociDescriptor is an entry of an OCI index or manifest.
type ociDescriptor struct {
	MediaType   string `json:"mediaType"`
	Digest      string `json:"digest"`
	Size        int64  `json:"size"`
	Annotations map[string]string
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

// TestRelease runs scripts/release.sh once, into a directory of its own,
// and checks what it produces: the OCI archive's index is a manifest list
// of linux/amd64 and linux/arm64 named as the chart's default image
// (ghcr.io/heraproject/hera:<VERSION>), each image labelled with VERSION
// and Apache-2.0 and its binary saying VERSION; the packaged chart's
// appVersion is VERSION and it deploys that image; SHA256SUMS verifies
// both; and publishing the archive as docs/releasing.md says keeps the
// index's digest. The release builds the image for both architectures,
// which takes a while the first time.
func TestRelease(t *testing.T) {
	if rt := containerRuntime(t); rt != "podman" {
		t.Skipf("scripts/release.sh needs podman (found %s)", rt)
	}
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	version := readVersion(t, root)
	chart := chartYAML(t, root)
	dist := t.TempDir()

	start := time.Now()
	cmd := exec.Command(filepath.Join(root, "scripts", "release.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DIST="+dist, "OUT="+t.TempDir(), "HELM="+helm, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", imageEpoch))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}
	t.Logf("scripts/release.sh took %v:\n%s", time.Since(start).Round(time.Second), out)

	archive := "hera-" + version + ".oci.tar"
	pkg := "hera-" + chart["version"] + ".tgz"
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"SHA256SUMS", archive, pkg}; !slices.Equal(names, want) {
		t.Errorf("dist holds %v, want %v", names, want)
	}

	// SHA256SUMS verifies, over both artefacts.
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var summed []string
	for _, l := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(l, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: %q is not sha256sum's format", l)
		}
		if got := fileSHA256(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("SHA256SUMS: %s is %s, the file's digest %s", name, sum, got)
		}
		summed = append(summed, name)
	}
	if slices.Sort(summed); !slices.Equal(summed, []string{archive, pkg}) {
		t.Errorf("SHA256SUMS covers %v, want %s and %s", summed, archive, pkg)
	}

	// The chart, as packaged: VERSION is its appVersion, and its default
	// image is the release's.
	chartFiles := readTarGz(t, filepath.Join(dist, pkg))
	packaged := map[string]string{}
	for _, l := range strings.Split(string(chartFiles["hera/Chart.yaml"].body), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, " ") {
			packaged[k] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	if packaged["appVersion"] != version || chart["appVersion"] != version || packaged["version"] != chart["version"] {
		t.Errorf("VERSION %s, Chart.yaml appVersion %s, the package's appVersion %s and version %s (Chart.yaml's %s)",
			version, chart["appVersion"], packaged["appVersion"], packaged["version"], chart["version"])
	}
	if _, ok := chartFiles["hera/values.schema.json"]; !ok {
		t.Error("the package has no values.schema.json")
	}
	ref := defaultImageOf(t, root, helm, filepath.Join(dist, pkg))
	if ref != releaseRepository+":"+version {
		t.Errorf("the packaged chart deploys %s, want %s:%s", ref, releaseRepository, version)
	}

	// The OCI archive: one index, named as the chart's default image,
	// listing both architectures.
	files := readTar(t, filepath.Join(dist, archive))
	blob := func(d ociDescriptor) []byte {
		t.Helper()
		hexDigest, ok := strings.CutPrefix(d.Digest, "sha256:")
		f, found := files["blobs/sha256/"+hexDigest]
		if !ok || !found {
			t.Fatalf("%s is not in the archive", d.Digest)
		}
		if sum := sha256.Sum256(f.body); hex.EncodeToString(sum[:]) != hexDigest || int64(len(f.body)) != d.Size {
			t.Fatalf("blob %s: wrong digest or size", d.Digest)
		}
		return f.body
	}
	var layout struct{ Manifests []ociDescriptor }
	if err := json.Unmarshal(files["index.json"].body, &layout); err != nil || len(layout.Manifests) != 1 {
		t.Fatalf("index.json: %v\n%s", err, files["index.json"].body)
	}
	top := layout.Manifests[0]
	if top.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("the archive's image is a %s, want an image index (a manifest list)", top.MediaType)
	}
	if name := top.Annotations["org.opencontainers.image.ref.name"]; name != ref {
		t.Errorf("the archive names its image %q, the chart deploys %q", name, ref)
	}
	var list struct{ Manifests []ociDescriptor }
	if err := json.Unmarshal(blob(top), &list); err != nil {
		t.Fatal(err)
	}
	var platforms []string
	var hostLayer []byte
	for _, m := range list.Manifests {
		if m.Platform == nil {
			t.Errorf("index entry %s has no platform", m.Digest)
			continue
		}
		platform := m.Platform.OS + "/" + m.Platform.Architecture
		platforms = append(platforms, platform)
		var manifest struct {
			Config ociDescriptor
			Layers []ociDescriptor
		}
		if err := json.Unmarshal(blob(m), &manifest); err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
			Config       struct{ Labels map[string]string }
		}
		if err := json.Unmarshal(blob(manifest.Config), &cfg); err != nil {
			t.Fatal(err)
		}
		labels := cfg.Config.Labels
		if cfg.OS+"/"+cfg.Architecture != platform || labels["org.opencontainers.image.version"] != version ||
			labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
			t.Errorf("%s: image for %s/%s, labels %v; want version %s and licences Apache-2.0", platform, cfg.OS, cfg.Architecture, labels, version)
		}
		if len(manifest.Layers) != 1 {
			t.Errorf("%s: %d layers, want 1", platform, len(manifest.Layers))
			continue
		}
		layer := blob(manifest.Layers[0])
		if m.Platform.Architecture == runtime.GOARCH {
			hostLayer = layer
		}
	}
	slices.Sort(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("the index lists %v, want linux/amd64 and linux/arm64", platforms)
	}

	// This machine's image: its binary says the release, and the notices
	// are there.
	if hostLayer == nil {
		t.Fatalf("no image for this machine's %s", runtime.GOARCH)
	}
	zr, err := gzip.NewReader(bytes.NewReader(hostLayer))
	if err != nil {
		t.Fatal(err)
	}
	layerFiles := readTarFrom(t, zr)
	if len(layerFiles["usr/share/doc/hera/NOTICES"].body) == 0 {
		t.Error("the release's image has no NOTICES")
	}
	bin := filepath.Join(t.TempDir(), "hera")
	if err := os.WriteFile(bin, layerFiles["usr/bin/hera"].body, 0o755); err != nil {
		t.Fatal(err)
	}
	if v, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || strings.TrimSpace(string(v)) != "hera "+version {
		t.Errorf("the release's hera --version: %q %v, want \"hera %s\"", v, err, version)
	}

	// Publishing as docs/releasing.md says (here to a local OCI layout, not
	// a registry) keeps the index's digest.
	pub := fmt.Sprintf("localhost/hera-publish-test-%d:%s", os.Getpid(), version)
	t.Cleanup(func() { _ = exec.Command("podman", "manifest", "rm", pub).Run() })
	layoutDir := t.TempDir()
	for _, args := range [][]string{
		{"manifest", "create", pub},
		{"manifest", "add", "--all", pub, "oci-archive:" + filepath.Join(dist, archive)},
		{"manifest", "push", "--all", "--quiet", pub, "oci:" + layoutDir + ":" + version},
	} {
		if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var pushed struct{ Manifests []ociDescriptor }
	b, err := os.ReadFile(filepath.Join(layoutDir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pushed); err != nil || len(pushed.Manifests) != 1 || pushed.Manifests[0].Digest != top.Digest {
		t.Errorf("published, the index is %s, the archive's %s", b, top.Digest)
	}

	// The release's own images are gone; local images keep their names.
	// The script names them by its process ID ($$), so another release
	// running at the same time on this machine is not counted.
	work := fmt.Sprintf("reference=localhost/hera-release-%d", cmd.Process.Pid)
	if out, err := exec.Command("podman", "images", "--noheading", "--filter", work).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("scripts/release.sh left images behind: %v\n%s", err, out)
	}
}

// defaultImageOf is the image a chart (a directory or a package) deploys
// with its default values.
func defaultImageOf(t *testing.T, root, helm, chart string) string {
	t.Helper()
	out, err := runHelm(root, helm, "template", "hera", chart, "--namespace", chartNamespace, "--kube-version", "1."+helmKubeMinor+".0")
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", chart, err, out)
	}
	for _, o := range decodeManifests(t, helm, out) {
		if o.Kind == "Deployment" {
			var d struct {
				Template struct {
					Spec struct {
						Containers []struct{ Image string }
					}
				}
			}
			unmarshalSpec(t, o, &d)
			if len(d.Template.Spec.Containers) == 1 {
				return d.Template.Spec.Containers[0].Image
			}
		}
	}
	t.Fatalf("%s renders no Deployment with one container", chart)
	return ""
}

// readTarGz reads a gzip-compressed tar archive.
func readTarGz(t *testing.T, p string) map[string]imageFile {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	return readTarFrom(t, zr)
}
