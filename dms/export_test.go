package dms

// Next exposes the transition table to the external tests.
var Next = next
