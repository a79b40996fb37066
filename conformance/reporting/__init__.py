"""What a finished run is read as: allure labels and categories, known findings as the
failures they are (Allure 3 known issues), the run's verdict, the environment file,
the conformance matrix and its chart, and the HTML report built with Allure 3.

Nothing here talks to QEMU: these modules turn what a run recorded (pytest reports,
allure results, JUnit XML, the live schema) into reports for people.
"""
