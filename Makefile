# The two commands of the README. Both install missing system packages first.
.PHONY: setup test report
setup:
	@scripts/bootstrap.sh

# Runs every test (Swift Testing and XCTest).
test: setup
	swift test

# The main job: writes report/report.md, report/report.json, report/figures/ and notebooks-md/.
report: setup
	swift run -c release unverify report --out report --notebooks notebooks-md
