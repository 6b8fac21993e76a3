package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// moduleAPI returns the features of every importable package of the module rooted at root,
// sorted: one line per exported constant, variable, function, type, struct field, interface
// method and method, each prefixed with "pkg <import path>, ".
func moduleAPI(root string) ([]string, []alias, error) {
	paths, err := importablePackages(root)
	if err != nil {
		return nil, nil, err
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no importable package in %s", root)
	}
	exports, err := exportData(root, paths)
	if err != nil {
		return nil, nil, err
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	var out []string
	var aliases []alias
	for _, path := range paths {
		pkg, err := imp.Import(path)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the API of %s: %w", path, err)
		}
		out = append(out, packageFeatures(pkg)...)
		aliases = append(aliases, packageAliases(pkg)...)
	}
	sort.Strings(out)
	return slices.Compact(out), aliases, nil
}

// alias is an exported alias of a defined type: type Old = New. Code written against Old keeps
// compiling when a signature says New instead, so compare accepts either name.
type alias struct {
	pkgPath, pkgName string // where the alias is declared
	name             string // Old
	target           *types.TypeName
}

func packageAliases(pkg *types.Package) []alias {
	var out []alias
	for _, name := range pkg.Scope().Names() {
		tn, ok := pkg.Scope().Lookup(name).(*types.TypeName)
		if !ok || !tn.Exported() || !tn.IsAlias() {
			continue
		}
		if named, ok := types.Unalias(tn.Type()).(*types.Named); ok && named.Obj().Pkg() != nil {
			out = append(out, alias{pkgPath: pkg.Path(), pkgName: pkg.Name(), name: name, target: named.Obj()})
		}
	}
	return out
}

// replacer returns the rewriting of a feature line of package pkgPath that spells every alias
// as its target, as the type checker does.
func replacer(aliases []alias, pkgPath string) func(string) string {
	type sub struct {
		re   *regexp.Regexp
		with string
	}
	var subs []sub
	for _, a := range aliases {
		old := a.name
		if a.pkgPath != pkgPath {
			old = a.pkgName + "." + a.name
		}
		with := a.target.Name()
		if a.target.Pkg().Path() != pkgPath {
			with = a.target.Pkg().Name() + "." + with
		}
		subs = append(subs, sub{regexp.MustCompile(`(^|[^\w.])` + regexp.QuoteMeta(old) + `\b`), "${1}" + with})
	}
	return func(s string) string {
		for _, x := range subs {
			s = x.re.ReplaceAllString(s, x.with)
		}
		return s
	}
}

// goList runs go list in dir and returns its output lines.
func goList(dir string, args ...string) ([]string, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

// importablePackages lists the module's packages that other modules can import: not main, not
// under an internal/ directory.
func importablePackages(root string) ([]string, error) {
	lines, err := goList(root, "-f", "{{.ImportPath}} {{.Name}}", "./...")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range lines {
		path, name, _ := strings.Cut(l, " ")
		if name == "main" || slices.Contains(strings.Split(path, "/"), "internal") {
			continue
		}
		out = append(out, path)
	}
	return out, nil
}

// exportData compiles the packages and their dependencies (through the build cache) and returns
// the export data file of each, by import path.
func exportData(root string, paths []string) (map[string]string, error) {
	lines, err := goList(root, append([]string{"-deps", "-export", "-f", "{{.ImportPath}}\t{{.Export}}"}, paths...)...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(lines))
	for _, l := range lines {
		path, file, _ := strings.Cut(l, "\t")
		out[path] = file
	}
	return out, nil
}

// packageFeatures lists the exported API of one package.
func packageFeatures(pkg *types.Package) []string {
	w := &writer{pkg: pkg}
	prefix := "pkg " + pkg.Path() + ", "
	var out []string
	add := func(s string) { out = append(out, prefix+s) }
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Const:
			add(fmt.Sprintf("const %s %s = %s", name, w.typ(obj.Type()), obj.Val().ExactString()))
		case *types.Var:
			add(fmt.Sprintf("var %s %s", name, w.typ(obj.Type())))
		case *types.Func:
			add("func " + name + w.signature(obj.Type().(*types.Signature)))
		case *types.TypeName:
			out = append(out, w.typeFeatures(prefix, obj)...)
		}
	}
	return out
}

// typeFeatures lists a type: its definition, its exported fields or interface methods, and its
// exported methods. An alias of a defined type lists what the type it stands for has, under the
// alias's name: to users the two are the same, so replacing a type by a deprecated alias of its
// successor (type Old = New) changes no line.
func (w *writer) typeFeatures(prefix string, obj *types.TypeName) []string {
	name := obj.Name()
	t := obj.Type()
	if obj.IsAlias() {
		t = types.Unalias(t)
	}
	named, ok := t.(*types.Named)
	if !ok {
		sep := " "
		if obj.IsAlias() {
			sep = " = "
		}
		return []string{prefix + "type " + name + sep + w.typ(t)}
	}
	head := prefix + "type " + name + w.typeParams(named.TypeParams())
	var out []string
	switch u := named.Underlying().(type) {
	case *types.Struct:
		out = append(out, head+" struct")
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			switch {
			case f.Embedded():
				out = append(out, head+" struct, embedded "+w.typ(f.Type()))
			case f.Exported():
				out = append(out, head+" struct, "+f.Name()+" "+w.typ(f.Type()))
			}
		}
	case *types.Interface:
		var names []string
		unexported := false
		for i := 0; i < u.NumMethods(); i++ {
			m := u.Method(i)
			if !m.Exported() {
				unexported = true
				continue
			}
			names = append(names, m.Name())
			out = append(out, head+" interface, "+m.Name()+w.signature(m.Type().(*types.Signature)))
		}
		if unexported {
			names = append(names, "unexported methods")
		}
		// The method set on one line: adding a method to an interface breaks its implementations.
		out = append(out, head+" interface { "+strings.Join(names, ", ")+" }")
	default:
		out = append(out, head+" "+w.typ(u))
	}
	for i := 0; i < named.NumMethods(); i++ {
		m := named.Method(i)
		if !m.Exported() {
			continue
		}
		sig := m.Type().(*types.Signature)
		recv := name
		if _, ptr := sig.Recv().Type().(*types.Pointer); ptr {
			recv = "*" + name
		}
		out = append(out, fmt.Sprintf("%smethod (%s) %s%s", prefix, recv, m.Name(), w.signature(sig)))
	}
	return out
}

// writer prints types the way Go source spells them, without parameter names (renaming a
// parameter changes no caller), qualifying names of other packages by the package name.
type writer struct{ pkg *types.Package }

func (w *writer) qualifier(p *types.Package) string {
	if p == w.pkg {
		return ""
	}
	return p.Name()
}

func (w *writer) typ(t types.Type) string {
	switch t := t.(type) {
	case *types.Pointer:
		return "*" + w.typ(t.Elem())
	case *types.Slice:
		return "[]" + w.typ(t.Elem())
	case *types.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), w.typ(t.Elem()))
	case *types.Map:
		return "map[" + w.typ(t.Key()) + "]" + w.typ(t.Elem())
	case *types.Chan:
		switch t.Dir() {
		case types.SendOnly:
			return "chan<- " + w.typ(t.Elem())
		case types.RecvOnly:
			return "<-chan " + w.typ(t.Elem())
		}
		return "chan " + w.typ(t.Elem())
	case *types.Signature:
		return "func" + w.signature(t)
	case *types.Struct:
		fields := make([]string, t.NumFields())
		for i := range fields {
			f := t.Field(i)
			if f.Embedded() {
				fields[i] = w.typ(f.Type())
			} else {
				fields[i] = f.Name() + " " + w.typ(f.Type())
			}
		}
		return "struct{" + strings.Join(fields, "; ") + "}"
	case *types.Interface:
		if t.Empty() {
			if t.IsComparable() {
				return "comparable"
			}
			return "any"
		}
	}
	return types.TypeString(t, w.qualifier)
}

// signature prints "(params) results" without names.
func (w *writer) signature(sig *types.Signature) string {
	var b strings.Builder
	b.WriteString(w.typeParams(sig.TypeParams()))
	b.WriteByte('(')
	params := sig.Params()
	for i := 0; i < params.Len(); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		t := params.At(i).Type()
		if sig.Variadic() && i == params.Len()-1 {
			b.WriteString("..." + w.typ(t.(*types.Slice).Elem()))
		} else {
			b.WriteString(w.typ(t))
		}
	}
	b.WriteByte(')')
	res := sig.Results()
	switch res.Len() {
	case 0:
	case 1:
		b.WriteString(" " + w.typ(res.At(0).Type()))
	default:
		b.WriteString(" (")
		for i := 0; i < res.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(w.typ(res.At(i).Type()))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func (w *writer) typeParams(tps *types.TypeParamList) string {
	if tps.Len() == 0 {
		return ""
	}
	s := make([]string, tps.Len())
	for i := range s {
		tp := tps.At(i)
		s[i] = tp.Obj().Name() + " " + w.typ(tp.Constraint())
	}
	return "[" + strings.Join(s, ", ") + "]"
}
