// Package appview reads what an Application owns and where it runs, for the people who look
// at it: the CLI's `ferry status --tree` and the console show the same resource tree from
// the same function.
package appview
