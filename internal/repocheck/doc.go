// Package repocheck holds tests of the repository rather than of its code:
// the public documents speak to users, LICENSE holds the full license text,
// scripts stop only processes they started, each go.mod requires the oldest
// Go that its dependencies allow, and the README's demo sample is quoted
// from the recorded run in docs/demo-output.txt. It has no API.
package repocheck
