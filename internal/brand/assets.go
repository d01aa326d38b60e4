package brand

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"
)

// The operator's brand assets (HERA_BRAND_ASSETS_DIR): logos, icons and
// fonts, read once at start and served from memory, each at its plain name
// (logo.svg, for the operator's CSS) and at a versioned one with its
// content's hash (logo.3f9a1c2b.svg, which pages use and browsers keep for
// good). The bounds keep them to what branding needs, in memory.
const (
	MaxAssets     = 64
	MaxAssetBytes = 1 << 20
	MaxAssetTotal = 8 << 20
)

// assetTypes are the kinds of file served, by extension, with the
// Content-Type http.DetectContentType must find in the file (SVG, which it
// does not sniff, is checked to be an XML document whose root is <svg>).
var assetTypes = map[string]string{
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".jpeg":  "image/jpeg",
	".gif":   "image/gif",
	".webp":  "image/webp",
	".avif":  "image/avif",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".ttf":   "font/ttf",
	".otf":   "font/otf",
}

// AssetCSP is the Content-Security-Policy assets are served with. An SVG
// opened on Hera's origin is a document that could run script or load
// resources: sandboxed and allowed nothing but its own inline styles, it
// can do neither.
const AssetCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// assetName is what a file may be called: it appears unescaped in URLs.
var assetName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// versionedName matches a versioned URL's name: stem, hash, extension.
var versionedName = regexp.MustCompile(`^(.+)\.([0-9a-f]{8})(\.[A-Za-z0-9]+)$`)

// Asset is one file, in memory.
type Asset struct {
	Name        string // logo.svg
	Versioned   string // logo.3f9a1c2b.svg
	ContentType string
	Hash        string // of Body, in Versioned and the ETag
	Body        []byte
}

// Assets are a directory's files by plain and by versioned name.
type Assets struct {
	byName      map[string]*Asset
	byVersioned map[string]*Asset
}

// Lookup finds the asset a URL's name asks for: by its versioned name
// (current: the URL names this very content), by its plain name, or by a
// versioned name of another version of it — a page rendered by a replica
// with another file, during a rolling update — answered with the current
// file rather than nothing. Anything else, dotfiles and paths included,
// is nil.
func (a *Assets) Lookup(name string) (f *Asset, current bool) {
	if f := a.byVersioned[name]; f != nil {
		return f, true
	}
	if f := a.byName[name]; f != nil {
		return f, false
	}
	if m := versionedName.FindStringSubmatch(name); m != nil {
		return a.byName[m[1]+m[3]], false
	}
	return nil, false
}

// File is the asset of that plain name, or nil.
func (a *Assets) File(name string) *Asset { return a.byName[name] }

// Len is the number of files.
func (a *Assets) Len() int { return len(a.byName) }

// LoadAssets reads every file of dir, or says everything wrong with it: a file of an unknown type or whose content is not of its type, too
// many or too large files, a subdirectory, a symbolic link leading out of
// the directory. Names starting with a dot are skipped (and never served):
// Kubernetes mounts a ConfigMap as links to its ..data directory.
// "" is no directory: no assets.
func LoadAssets(dir string) (*Assets, error) {
	a := &Assets{byName: map[string]*Asset{}, byVersioned: map[string]*Asset{}}
	if dir == "" {
		return a, nil
	}
	// os.Root resolves symbolic links inside dir only: one leading out of
	// it fails to open.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, err
	}
	var errs []error
	total, count := 0, 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		count++
		if count > MaxAssets {
			errs = append(errs, fmt.Errorf("more than %d files", MaxAssets))
			break
		}
		f, err := readAsset(root, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		total += len(f.Body)
		a.byName[f.Name] = f
	}
	if total > MaxAssetTotal {
		errs = append(errs, fmt.Errorf("%d bytes in all, more than %d MiB", total, MaxAssetTotal>>20))
	}
	for _, f := range a.byName {
		// A file literally named like another's versioned name would be
		// served in its place.
		if _, clash := a.byName[f.Versioned]; clash {
			errs = append(errs, fmt.Errorf("%s: its name is %s's versioned name; rename one", f.Versioned, f.Name))
		}
		a.byVersioned[f.Versioned] = f
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

// readAsset reads and checks one file of root.
func readAsset(root *os.Root, name string) (*Asset, error) {
	if !assetName.MatchString(name) {
		return nil, errors.New("names may use only letters, digits, '.', '-' and '_'")
	}
	fi, err := root.Stat(name) // follows links, inside the root only
	if err != nil {
		if li, lerr := root.Lstat(name); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, errors.New("a symbolic link to nothing")
			}
			return nil, errors.New("a symbolic link out of the directory")
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file (subdirectories are not served)")
	}
	ext := strings.ToLower(path.Ext(name))
	ctype, ok := assetTypes[ext]
	if !ok {
		return nil, fmt.Errorf("unknown type %q (want one of .svg .png .jpg .jpeg .gif .webp .avif .ico .woff2 .woff .ttf .otf)", ext)
	}
	if fi.Size() > MaxAssetBytes {
		return nil, fmt.Errorf("%d bytes, more than %d KiB", fi.Size(), MaxAssetBytes>>10)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, MaxAssetBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxAssetBytes {
		return nil, fmt.Errorf("more than %d KiB", MaxAssetBytes>>10)
	}
	if ext == ".svg" {
		if !isSVG(body) {
			return nil, errors.New("not an SVG image (an XML document whose root element is <svg>)")
		}
	} else if got := http.DetectContentType(body); got != ctype {
		return nil, fmt.Errorf("the content is %s, not %s", got, ctype)
	}
	h := ContentHash(body)
	stem := strings.TrimSuffix(name, path.Ext(name))
	return &Asset{Name: name, Versioned: stem + "." + h + path.Ext(name), ContentType: ctype, Hash: h, Body: body}, nil
}

// isSVG reports whether b is an XML document whose root element is <svg>.
func isSVG(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		if el, ok := tok.(xml.StartElement); ok {
			return el.Name.Local == "svg"
		}
	}
}
