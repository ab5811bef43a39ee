package conflict

// SetAsWritten switches the literal-text behaviours on or off (tests only).
func SetAsWritten(tombsAtTs, dedupe, deleteTie, equalKeepsOld bool) {
	asWritten.setKeepsTombstonesAtTs = tombsAtTs
	asWritten.setDedupes = dedupe
	asWritten.deleteTieResets = deleteTie
	asWritten.equalKeepsOld = equalKeepsOld
}
