package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/fm-image/fm-image/quality"
)

// runPlot draws FD against model evaluations per image from the tables
// bench/quality.sh writes (tab-separated, a header line, then
// sampler, steps, nfe, fd, precision, recall), one line per run and
// sampler:
//
//	fmquality plot -out fd.png [-floor 0.67] NAME=run/fd.tsv NAME2=run2/fd.tsv
func runPlot(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ExitOnError)
	out := fs.String("out", "", "PNG file to write (required)")
	title := fs.String("title", "FD (InceptionV3) against model evaluations per image", "plot title")
	floor := fs.Float64("floor", 0, "real-vs-real FD drawn as a dashed line (0: none)")
	_ = fs.Parse(args)
	if *out == "" || fs.NArg() == 0 {
		return errors.New("plot: -out and at least one NAME=TABLE.tsv are required")
	}
	var series []quality.Series
	for _, arg := range fs.Args() {
		name, path, ok := strings.Cut(arg, "=")
		if !ok {
			name, path = "", arg
		}
		s, err := readFDTable(name, path)
		if err != nil {
			return err
		}
		series = append(series, s...)
	}
	opts := quality.PlotOptions{Title: *title, XLabel: "model evaluations per image", YLabel: "FD", LogX: true}
	if *floor > 0 {
		opts.Lines = []quality.RefLine{{Name: "real vs real", Y: *floor}}
	}
	img, err := quality.Plot(series, opts)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return savePNG(*out, img)
}

// readFDTable reads one table into a series per sampler, named
// "NAME sampler" (or the sampler alone when name is empty).
func readFDTable(name, path string) ([]quality.Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var series []quality.Series
	index := map[string]int{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 || len(fields) < 4 || fields[3] == "-" {
			continue // header, or a row without FD
		}
		nfe, err1 := strconv.ParseFloat(fields[2], 64)
		fd, err2 := strconv.ParseFloat(fields[3], 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		label := strings.TrimSpace(name + " " + fields[0])
		i, ok := index[label]
		if !ok {
			i = len(series)
			index[label] = i
			series = append(series, quality.Series{Name: label})
		}
		series[i].X = append(series[i].X, nfe)
		series[i].Y = append(series[i].Y, fd)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("%s: no rows with an FD", path)
	}
	return series, nil
}
