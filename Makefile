# The two commands of the README. Both install missing system packages first.
.PHONY: setup test report lab
setup:
	@scripts/bootstrap.sh

# Runs every test (Swift Testing and XCTest).
test: setup
	swift test

# The main job: writes report/report.md, report/report.json, report/figures/ and notebooks-md/.
report: setup
	swift run -c release unverify report --out report --notebooks notebooks-md

# Re-trains the committed training-lab studies in place (about 9 minutes on the 2-core machine):
# lab-results/digits-study and lab-results/text-study. `git diff lab-results` then shows what changed
# (only times, when the build and the machine are the same: runs are seeded).
lab: setup
	rm -rf lab-results/digits-study lab-results/text-study
	swift build -c release --product unverify
	.build/release/unverify lab --task digits
	.build/release/unverify lab --task text
