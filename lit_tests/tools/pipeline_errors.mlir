// Pipeline mistakes exit non-zero with one line naming the problem (the
// -NOT lines: no traceback before it, nothing after it).
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(no-such-pass)' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(cse,no-such-pass{x=1})' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not fuse-opt %s -p cse,no-such-pass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(cse{)' 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not fuse-opt %s -p 'cse{' 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not fuse-opt %s --pass-pipeline='cse' 2>&1 | filecheck %s --check-prefix=ANCHOR
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(cse' 2>&1 | filecheck %s --check-prefix=ANCHOR
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(cse))' 2>&1 | filecheck %s --check-prefix=PAREN
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(func.func(cse))' 2>&1 | filecheck %s --check-prefix=NESTED
// RUN: not fuse-opt %s --pass-pipeline='builtin.module(cse{no-such-option=1})' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not fuse-opt %s -p cse --pass-pipeline='builtin.module(cse)' 2>&1 | filecheck %s --check-prefix=BOTH

// UNKNOWN-NOT: Traceback
// UNKNOWN:     {{^}}fuse-opt: error: unknown pass 'no-such-pass'{{$}}
// UNKNOWN-NOT: {{.}}

// SYNTAX-NOT: Traceback
// SYNTAX:     {{^}}fuse-opt: error: bad pass pipeline 'cse{': expected argument name here (column 5){{$}}
// SYNTAX-NOT: {{.}}

// ANCHOR-NOT: Traceback
// ANCHOR:     {{^}}fuse-opt: error: bad pass pipeline '{{.*}}': expected 'builtin.module(pass1,pass2{option=value})'{{$}}
// ANCHOR-NOT: {{.}}

// PAREN:     {{^}}fuse-opt: error: bad pass pipeline 'builtin.module(cse))': unbalanced ')'{{$}}
// PAREN-NOT: {{.}}

// NESTED:     {{^}}fuse-opt: error: nested pass pipeline 'func.func(...)' is not supported{{.*}}{{$}}
// NESTED-NOT: {{.}}

// OPTION:     {{^}}fuse-opt: error: invalid options for pass 'cse': {{.*}}no_such_option{{.*}}{{$}}
// OPTION-NOT: {{.}}

// BOTH:     {{^}}fuse-opt: error: give either -p or --pass-pipeline, not both{{$}}
// BOTH-NOT: {{.}}

func.func @f() {
  func.return
}
