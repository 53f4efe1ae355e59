package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/sdk"
)

// maxListed bounds the entries of one directory listing.
const maxListed = 1000

// modelNameRE is what a new model's directory name may look like.
var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// modelCandidates lists the sub-directories of the models directory with
// names a model may have, sorted: the generator decides which hold a model.
func (s *Server) modelCandidates() ([]string, error) {
	entries, err := os.ReadDir(s.cfg.ModelsDir)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	var names []string
	for _, e := range entries {
		if len(names) == maxListed {
			break
		}
		if e.IsDir() && modelNameRE.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// modelDir returns the directory of the model called name, or an error
// answering 400 (not a plain name) or 404 (no such directory). Whether it
// holds a model is the generator's to say (sdk.ErrNotFound answers 404).
func (s *Server) modelDir(name string) (string, error) {
	if !modelNameRE.MatchString(name) {
		return "", errorf(http.StatusBadRequest, "invalid model name %q: want letters, digits, '.', '_' or '-' (at most 64)", name)
	}
	dir := filepath.Join(s.cfg.ModelsDir, name)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return "", errorf(http.StatusNotFound, "no model %q in the models directory", name)
	}
	return dir, nil
}

// modelJSON describes one model in GET /api/models.
type modelJSON struct {
	Name        string `json:"name"`
	Arch        string `json:"arch,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Step        int    `json:"step"`
	TotalSteps  int    `json:"totalSteps"`
	DatasetSize int    `json:"datasetSize"`
	Params      int64  `json:"params"`
	Backend     string `json:"backend,omitempty"`
	// Objective, Sampler and StepCounts say how the model samples: its
	// default sampler and the step counts it is made for (none: any).
	Objective  string `json:"objective,omitempty"`
	Sampler    string `json:"sampler,omitempty"`
	StepCounts []int  `json:"stepCounts,omitempty"`
	Training   bool   `json:"training"`
	// Error is set when the plugin could not describe the model.
	Error string `json:"error,omitempty"`
}

// modelsJSON is the answer of GET /api/models.
type modelsJSON struct {
	Models []modelJSON `json:"models"`
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	names, err := s.modelCandidates()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := modelsJSON{Models: make([]modelJSON, 0, len(names))}
	for _, name := range names {
		if m, ok := s.describe(r.Context(), name); ok {
			out.Models = append(out.Models, m)
		}
	}
	if err := r.Context().Err(); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// describe asks the plugin about one model directory. ok is false when it
// holds no model (and is not being trained); any other failure is reported
// in the entry so that one broken model does not hide the others.
func (s *Server) describe(ctx context.Context, name string) (m modelJSON, ok bool) {
	m = modelJSON{Name: name, Training: s.isTraining(name)}
	dir, err := s.modelDir(name)
	if err != nil {
		m.Error = err.Error()
		return m, true
	}
	info, err := s.gen.Info(ctx, dir)
	if errors.Is(err, sdk.ErrNotFound) && !m.Training {
		return m, false
	}
	if err != nil {
		m.Error = fmt.Sprintf("plugin: %v", err)
		return m, true
	}
	m.Arch, m.Width, m.Height = info.Arch, info.Width, info.Height
	m.Step, m.TotalSteps, m.DatasetSize = info.Step, info.TotalSteps, info.DatasetSize
	m.Params, m.Backend = info.Params, info.Backend
	m.Objective, m.Sampler, m.StepCounts = info.Objective, info.Sampler, info.StepCounts
	return m, true
}

// dataDir resolves rel, a slash-separated path relative to the data root
// ("" is the root itself), to a directory inside the root. Absolute paths,
// ".." and symbolic links leading outside the root are refused.
func (s *Server) dataDir(rel string) (string, error) {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		rel = "."
	}
	if strings.Contains(rel, `\`) || !filepath.IsLocal(filepath.FromSlash(rel)) || path.Clean(rel) != rel {
		return "", errorf(http.StatusBadRequest, "invalid folder %q: want a path inside the data directory", rel)
	}
	root, err := filepath.EvalSymlinks(s.cfg.DataDir)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return "", errorf(http.StatusNotFound, "no folder %q in the data directory", rel)
	}
	if err != nil {
		return "", errorf(http.StatusBadRequest, "folder %q: %v", rel, err)
	}
	if inside, err := filepath.Rel(root, dir); err != nil || !filepath.IsLocal(inside) {
		return "", errorf(http.StatusForbidden, "folder %q leads outside the data directory", rel)
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return "", errorf(http.StatusBadRequest, "%q is not a folder", rel)
	}
	return dir, nil
}

// folderJSON is the answer of GET /api/folders.
type folderJSON struct {
	// Dir is the folder listed, relative to the data root ("" = the root).
	Dir string `json:"dir"`
	// Folders are the names of its sub-folders, sorted.
	Folders []string `json:"folders"`
	// Images counts its image files (the ones training would read).
	Images int `json:"images"`
	// Truncated is set when the listing was cut at maxListed entries.
	Truncated bool `json:"truncated,omitempty"`
}

func (s *Server) handleFolders(w http.ResponseWriter, r *http.Request) {
	rel := strings.Trim(r.URL.Query().Get("dir"), "/")
	dir, err := s.dataDir(rel)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list folder %q: %w", rel, err))
		return
	}
	out := folderJSON{Dir: rel, Folders: []string{}}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if len(out.Folders) == maxListed {
			out.Truncated = true
			break
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(filepath.Join(dir, name))
			isDir = err == nil && st.IsDir()
		}
		switch {
		case isDir:
			out.Folders = append(out.Folders, name)
		case imageset.HasImageExt(name):
			out.Images++
		}
	}
	writeJSON(w, http.StatusOK, out)
}
