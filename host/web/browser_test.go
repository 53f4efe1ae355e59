package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// envChromium names the browser binary for TestBrowser; by default it is
// looked up on PATH as chromium (Debian's package), then chromium-browser.
const envChromium = "FM_IMAGE_CHROMIUM"

// findChromium returns the browser to drive, or "" if there is none.
func findChromium() string {
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts headless Chromium for the test, until ctx is done or
// the test ends.
func newBrowser(t *testing.T, ctx context.Context, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	return bctx
}

// TestBrowserToken opens the page of a server with a token through the URL
// that carries it, as a user given that URL would: the page must load
// without the token in its address (so the cookie set on the way is sent
// by the redirect, fetch and EventSource) and keep working after a reload.
func TestBrowserToken(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skipf("skipping the browser test: no Chromium found (apt-get install chromium, or set $%s)", envChromium)
	}
	token := NewToken()
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{Token: token})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	bctx := newBrowser(t, ctx, chromium)
	ready := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](`document.body.dataset.ready === 'true'`, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
		return chromedp.Void{}, err
	}
	for _, what := range []string{"open the URL with the token", "reload"} {
		nav := chromedp.Navigate(ts.URL + "/?token=" + token)
		if what == "reload" {
			nav = chromedp.Reload()
		}
		if err := chromedp.Do(bctx, nav, ready); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		state, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
			`[location.href, document.cookie, String(document.querySelectorAll('#model option').length)]`))
		if err != nil {
			t.Fatal(err)
		}
		if state[0] != ts.URL+"/" || state[1] != "" || state[2] == "0" {
			t.Fatalf("%s: at %s, cookies seen by the page %q, %s models; want %s/, none (HttpOnly) and some", what, state[0], state[1], state[2], ts.URL)
		}
	}
}

// TestBrowser drives the page in headless Chromium against the fake plugin
// (started through sdk.Open, as `fm-image serve` does): it generates at two
// step counts, runs the step-count strip, shows a plugin error, and trains
// a model, checking that every image is displayed (naturalWidth > 0).
// Screenshots go to the test's artifact directory (go test -artifacts).
func TestBrowser(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		t.Skipf("skipping the browser test: no Chromium found (apt-get install chromium, or set $%s)", envChromium)
	}
	// A pause per step makes previews reach the page as events of their
	// own, as they do from a real model, rather than in one burst with the
	// final images.
	t.Setenv("FMIMAGE_FAKE_STEP_DELAY", "20ms")
	pluginPath, err := sdktest.Build(t.TempDir(), "fakeplugin", sdktest.PluginPackage)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sdk.Open(pluginPath, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	// The fake plugin sends no previews; previewing adds some.
	_, ts := newTestServer(t, &previewing{Generator: client}, newFixture(t), Config{SampleImages: 4, SampleSteps: 2})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	bctx := newBrowser(t, ctx, chromium)

	artifacts := t.ArtifactDir()
	screenshot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(artifacts, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	// step runs browser actions, with a screenshot of the failure.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, actions...); err != nil {
			if ctx.Err() == nil {
				screenshot("failure.png")
			}
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitFor polls a JavaScript condition.
	waitFor := func(cond string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	// eval runs a statement for its effect.
	eval := func(js string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[any](js+";null")(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	// allShown is true when sel matches n images, all loaded with pixels.
	allShown := func(sel string, n int) string {
		return fmt.Sprintf(`(() => { const imgs = [...document.querySelectorAll(%q)];
			return imgs.length === %d && imgs.every((i) => i.complete && i.naturalWidth > 0); })()`, sel, n)
	}
	setForm := func(steps int) string {
		return fmt.Sprintf(`(() => {
			const set = (id, v) => {
				const e = document.getElementById(id);
				e.value = v;
				e.dispatchEvent(new Event('input'));
				e.dispatchEvent(new Event('change'));
			};
			set('model', 'm16'); set('sampler', 'heun'); set('steps', %d); set('n', 2);
			const r = document.getElementById('seed-random'); if (r.checked) r.click();
			set('seed', 7);
		})()`, steps)
	}

	step("load the page",
		chromedp.Navigate(ts.URL),
		waitFor(`document.body.dataset.ready === 'true'`),
	)
	step("generate at 3 steps",
		eval(setForm(3)),
		chromedp.Click(chromedp.CSS("#gen-go")),
		waitFor(allShown("#gallery figure:not(.preview) img", 2)),
	)
	step("generate at 9 steps",
		eval(setForm(9)),
		// Note whether a preview placeholder ever showed an image. The
		// mutation records are read rather than the document, which may
		// have replaced the placeholder by the time the observer runs.
		eval(`window.sawPreview = false; new MutationObserver((records) => {
			for (const r of records) {
				const img = r.target;
				if (r.type === 'attributes' && img.tagName === 'IMG' && img.getAttribute('src')?.startsWith('data:') &&
					img.parentElement?.classList.contains('preview')) window.sawPreview = true;
			}
		}).observe(document.getElementById('gallery'), { subtree: true, attributes: true, attributeFilter: ['src'] })`),
		chromedp.Click(chromedp.CSS("#gen-go")),
		waitFor(allShown("#gallery figure:not(.preview) img", 4)),
		waitFor(`window.sawPreview === true && !document.querySelector('#gallery figure.preview')`),
	)
	captions, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#gallery figcaption')].map((c) => c.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"m16 · heun · 9 steps · seed 7 · #1", "m16 · heun · 9 steps · seed 7 · #0",
		"m16 · heun · 3 steps · seed 7 · #1", "m16 · heun · 3 steps · seed 7 · #0",
	}
	if !slices.Equal(captions, want) {
		t.Fatalf("gallery captions %q, want %q", captions, want)
	}
	step("compare step counts",
		eval(`document.getElementById('strip-steps').value = '1, 4, 12'`),
		chromedp.Click(chromedp.CSS("#strip-go")),
		waitFor(allShown("#strip img", 3)),
		waitFor(`document.querySelectorAll('#strip a[download]').length === 3`),
	)
	screenshot("generate.png")

	step("show a plugin error",
		eval(`document.getElementById('model').value = 'broken'; document.getElementById('model').dispatchEvent(new Event('change'))`),
		chromedp.Click(chromedp.CSS("#gen-go")),
		waitFor(`[...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes('generation failed: ') && m.textContent.includes('parse model'))`),
	)
	screenshot("error.png")

	step("train a model",
		chromedp.Click(chromedp.CSS(`button[data-tab="train"]`)),
		waitFor(`[...document.querySelectorAll('#folders button')].some((b) => b.textContent === 'faces/')`),
		eval(`[...document.querySelectorAll('#folders button')].find((b) => b.textContent === 'faces/').click()`),
		waitFor(`document.getElementById('folder-path').textContent === '/faces'`),
		eval(`(() => {
			const set = (id, v) => { document.getElementById(id).value = v; };
			set('train-model', 'web1'); set('train-size', '16'); set('train-steps', 30); set('train-every', 10);
		})()`),
		chromedp.Click(chromedp.CSS("#train-go")),
		waitFor(`document.getElementById('run-state').textContent === 'done'`),
		waitFor(allShown("#samples img", 4)),
	)
	screenshot("train.png")
	log, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('run-log').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "checkpoint written at step 30") || !strings.Contains(log, "[30] done") {
		t.Fatalf("run log %q", log)
	}
}
