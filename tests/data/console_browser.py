"""An operator's console session in headless Chromium (Selenium), run by tests/console.rs.

Usage: console_browser.py BASE_URL API_TOKEN WORK_DIR SCREENSHOT_DIR
Prints one JSON line with the ids it made, for the Rust test to check through the API.
Everything is done as an operator would: pages, links, form fields and buttons.
"""
import json
import os
import subprocess
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

base, token, work, shots = sys.argv[1:5]

VICAL_EXT = (
    "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
    "extendedKeyUsage = 1.0.18013.5.1.8\nsubjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n"
)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def path(name):
    return os.path.join(work, name)


def offline_root():
    """The operator's offline DTS root, made with openssl outside the daemon."""
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("root.key"))
    with open(path("root.cnf"), "w") as f:
        f.write(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3\nprompt = no\n"
            "[dn]\nC = NZ\nO = Example Ltd\nCN = Offline DTS Root\n"
            "[v3]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n"
            "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid:always\n"
            "issuerAltName = URI:https://example.com/pki\n"
        )
    openssl("req", "-new", "-x509", "-config", path("root.cnf"), "-key", path("root.key"),
            "-sha256", "-days", "3650", "-out", path("root.pem"))
    return open(path("root.pem")).read()


def api(method, api_path, body=None):
    """A call of the JSON API with the operator's token, for what the console leaves to it
    (an ecosystem's participants)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + api_path, data=data, method=method, headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def outside_csr():
    """A CSR made outside the daemon (openssl), its key in a file of the operator's."""
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path("service.key"), "-subj", "/CN=service.example.com",
            "-out", path("service.csr"))
    return open(path("service.csr")).read()


def sign_csr(csr_pem):
    with open(path("vical.csr"), "w") as f:
        f.write(csr_pem)
    with open(path("vical.ext"), "w") as f:
        f.write(VICAL_EXT)
    openssl("x509", "-req", "-in", path("vical.csr"), "-CA", path("root.pem"), "-CAkey",
            path("root.key"), "-extfile", path("vical.ext"), "-days", "365", "-sha256",
            "-out", path("vical.pem"))
    return open(path("vical.pem")).read()


opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
          "--window-size=1280,1000", "--user-data-dir=" + path("chrome-profile")):
    opts.add_argument(a)
opts.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
service = webdriver.ChromeService(executable_path=os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"))
driver = webdriver.Chrome(options=opts, service=service)
driver.set_page_load_timeout(60)
wait = WebDriverWait(driver, 60)
console_errors = []


def shot(name):
    # The whole page, not only the window: size the window to the document first.
    # The window is taller than its viewport by the browser's own chrome, and a filled-in
    # form is scrolled to its focused field: both would cut the page.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(1280, min(max(height, 700), 2400) + chrome)
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    driver.save_screenshot(os.path.join(shots, name + ".png"))
    driver.set_window_size(1280, 1000)
    for entry in driver.get_log("browser"):
        # A CSP violation or a script error would show here.
        if entry.get("level") == "SEVERE":
            console_errors.append(entry["message"])


def fill(name, value):
    el = driver.find_element(By.NAME, name)
    el.clear()
    el.send_keys(value)


def fill_area(name, value):
    # send_keys is slow for a PEM; set the value as typing it would.
    el = driver.find_element(By.NAME, name)
    driver.execute_script("arguments[0].value = arguments[1];", el, value)


def navigating(click):
    """Click, then wait until the browser has left the page: a click returns before the
    form's POST is answered, and on a loaded machine the next check would read the old page."""
    old = driver.find_element(By.TAG_NAME, "html")
    click()

    def left(_):
        # Chromium answers a node of the page being replaced with either error.
        try:
            old.is_enabled()
            return False
        except (StaleElementReferenceException, WebDriverException):
            return True

    wait.until(left)


def submit(form_id):
    navigating(driver.find_element(By.CSS_SELECTOR, f"#{form_id} button[type=submit]").click)


def click_action(action):
    navigating(
        driver.find_element(By.CSS_SELECTOR, f"form.inline input[name=action][value={action}]")
        .find_element(By.XPATH, "..").find_element(By.TAG_NAME, "button").click)


def assert_no_error():
    errors = driver.find_elements(By.CSS_SELECTOR, ".error")
    assert not errors, errors[0].text


def wait_for_job():
    """A long operation answers with a job page that refreshes until it is done."""
    if "/console/jobs/" in driver.current_url:
        link = wait.until(lambda d: d.find_elements(By.ID, "job-result"))
        navigating(link[0].click)


out = {}
try:
    # Sign in with the API token.
    driver.get(base + "/console")
    assert driver.current_url.endswith("/console/sign-in"), driver.current_url
    shot("01-sign-in")
    fill("token", token)
    navigating(driver.find_element(By.ID, "sign-in").click)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Overview")
    assert not any(c["name"] == "hsm_pki_session" and not c.get("httpOnly") for c in driver.get_cookies())
    assert token not in driver.page_source
    shot("02-overview")

    # A managed DTS root (its key made in the token).
    navigating(driver.find_element(By.LINK_TEXT, "DTS roots").click)
    fill("commonName", "Console DTS Root")
    fill("country", "NZ")
    fill("organisationName", "Example Ltd")
    fill("issuerAlternativeNameConf.uri", "https://example.com/pki")
    submit("create")
    wait_for_job()
    assert "/console/ca/dts-roots/" in driver.current_url, driver.current_url
    assert_no_error()
    out["managedRoot"] = driver.current_url.rsplit("/", 1)[1]
    shot("03-dts-root")

    # The offline root, uploaded.
    navigating(driver.find_element(By.LINK_TEXT, "DTS roots").click)
    fill_area("certificatePem", offline_root())
    submit("create")
    assert "/console/ca/dts-roots/" in driver.current_url, driver.current_url
    assert_no_error()
    out["offlineRoot"] = driver.current_url.rsplit("/", 1)[1]
    navigating(driver.find_element(By.LINK_TEXT, "DTS roots").click)
    shot("04-dts-roots")

    # A VICAL signer under the offline root: CSR out, certificate in, activate.
    navigating(driver.find_element(By.LINK_TEXT, "VICAL signers").click)
    Select(driver.find_element(By.NAME, "caId")).select_by_value(out["offlineRoot"])
    submit("create")
    assert "/console/ca/vical-signers/" in driver.current_url, driver.current_url
    out["vicalSigner"] = driver.current_url.rsplit("/", 1)[1]
    csr_url = driver.find_element(By.ID, "csr").get_attribute("href")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    with urllib.request.urlopen(urllib.request.Request(csr_url, headers={"Cookie": cookie})) as r:
        assert r.headers["Content-Disposition"].startswith("attachment")
        csr = r.read().decode()
    assert csr.startswith("-----BEGIN CERTIFICATE REQUEST-----"), csr
    shot("05-vical-signer-csr")
    fill_area("certificatePem", sign_csr(csr))
    submit("upload")
    assert_no_error()
    click_action("activate")
    assert_no_error()
    assert driver.find_element(By.ID, "done").text.startswith("Done: activate")
    shot("06-vical-signer-active")

    # Two token keys, then an IACA and a Document Signer from the issuance forms.
    for key in ("console-iaca", "console-ds", "console-generic"):
        navigating(driver.find_element(By.LINK_TEXT, "Keys").click)
        fill("keyId", key)
        Select(driver.find_element(By.NAME, "algorithm")).select_by_value("secp256r1")
        navigating(driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click)
        wait_for_job()
        assert_no_error()
    shot("07-keys")
    navigating(driver.find_element(By.LINK_TEXT, "IACA").click)
    Select(driver.find_element(By.NAME, "iacaKeyDesc.keyIdPath")).select_by_visible_text("console-iaca (secp256r1)")
    fill("certificateData.country", "US")
    fill("certificateData.commonName", "Console IACA")
    fill("certificateData.issuerAlternativeNameConf.uri", "https://iaca.example.com")
    fill("storedCertificateId", "console-iaca")
    shot("08-issue-iaca")
    submit("issue")
    assert_no_error()
    navigating(driver.find_element(By.LINK_TEXT, "Document signer").click)
    Select(driver.find_element(By.NAME, "iacaSigner.iacaKeyDesc.keyIdPath")).select_by_visible_text("console-iaca (secp256r1)")
    Select(driver.find_element(By.NAME, "iacaSigner.certificatePEM")).select_by_index(0)
    Select(driver.find_element(By.NAME, "dsPublicKeySource.keyDescriptor.keyIdPath")).select_by_visible_text("console-ds (secp256r1)")
    fill("certificateData.country", "US")
    fill("certificateData.commonName", "Console DS")
    fill("certificateData.crlDistributionPointUri", "https://crl.example.com/iaca.crl")
    fill("storedCertificateId", "console-ds")
    shot("09-issue-ds")
    submit("issue")
    assert_no_error()
    assert "Done: issued" in driver.page_source

    # A generic CA certificate (self-signed, from a token key), then a certificate from a
    # CSR made outside, signed by that CA key.
    navigating(driver.find_element(By.LINK_TEXT, "Generic").click)
    Select(driver.find_element(By.NAME, "subjectPublicKeySource.keyDescriptor.keyIdPath")).select_by_visible_text("console-generic (secp256r1)")
    Select(driver.find_element(By.NAME, "issuer.type")).select_by_value("self-signed")
    fill("certificateData.subjectName.commonName", "Console Generic CA")
    fill("certificateData.subjectName.country", "NZ")
    fill("certificateData.subjectName.organizationName", "Example Ltd")
    Select(driver.find_element(By.NAME, "certificateData.isCertificateAuthority")).select_by_value("true")
    fill("certificateData.pathLengthConstraint", "0")
    fill("certificateData.keyUsage", "KeyCertSign, CRLSign")
    fill("storedCertificateId", "console-generic")
    shot("10-issue-generic")
    submit("issue")
    assert_no_error()
    assert "Done: issued" in driver.page_source
    navigating(driver.find_element(By.LINK_TEXT, "From a CSR").click)
    # console.js offers a file picker beside the PEM field; pasting is what a test can do.
    assert driver.find_elements(By.CSS_SELECTOR, "input[type=file].file")
    fill_area("subjectPublicKeySource.csrPEM", outside_csr())
    Select(driver.find_element(By.NAME, "issuer.issuerKeyDescriptor.keyIdPath")).select_by_visible_text("console-generic (secp256r1)")
    fill("certificateData.subjectName.commonName", "service.example.com")
    fill("certificateData.subjectName.country", "NZ")
    fill("certificateData.keyUsage", "DigitalSignature")
    fill("certificateData.extendedKeyUsageOids", "1.3.6.1.5.5.7.3.1")
    fill("certificateData.subjectAlternativeNames.dnsNames", "service.example.com")
    fill("storedCertificateId", "console-from-csr")
    shot("11-issue-csr")
    submit("issue")
    assert_no_error()
    assert "Done: issued" in driver.page_source

    # Revoke the DS from the certificate store.
    navigating(driver.find_element(By.LINK_TEXT, "Certificates").click)
    shot("12-certificates")
    row = driver.find_element(By.XPATH, "//tr[td/code[contains(., '.console-ds')]]")
    out["dsSerial"] = row.find_elements(By.TAG_NAME, "td")[3].text
    navigating(row.find_element(By.CSS_SELECTOR, "form.inline button").click)
    assert_no_error()
    assert "Done: revoked" in driver.page_source

    # The CRLs: the IACA key's lists the DS (one entry).
    navigating(driver.find_element(By.LINK_TEXT, "CRLs").click)
    listed = [r for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr")
              if "Console IACA" in r.text]
    assert listed, driver.page_source
    cells = listed[0].find_elements(By.TAG_NAME, "td")
    assert cells[6].text == "1", listed[0].text
    out["iacaCrl"] = cells[0].text
    shot("13-crls")

    # A VICAL: an ecosystem from the form, its issuing participant (the IACA issued above)
    # through the API, the configuration, then "publish now".
    navigating(driver.find_element(By.LINK_TEXT, "VICALs").click)
    fill("name", "Console ecosystem")
    submit("create")
    assert_no_error()
    out["ecosystem"] = driver.current_url.rsplit("/", 1)[1]
    iaca = api("GET", "/v1/example.operators.x509-store-1/x509-store-api/certificates/"
                      "example.operators.x509-store-1.console-iaca")
    api("POST", f"/v1/ecosystems/{out['ecosystem']}/participants", {
        "name": "Console issuer", "identifiers": {"mobile": [iaca["certificatePEM"]]},
        "isIssuer": True})
    driver.refresh()
    fill("vicalProvider", "Example Ltd")
    Select(driver.find_element(By.NAME, "autoPublish.frequency")).select_by_value("Weekly")
    submit("configure")
    assert_no_error()
    click_action("publish")
    assert_no_error()
    assert driver.find_element(By.ID, "done").text == "Done: published VICAL 1.", driver.page_source
    link = driver.find_element(By.CSS_SELECTOR, "a[href$='/vical-1.cbor']").get_attribute("href")
    with urllib.request.urlopen(urllib.request.Request(link, headers={"Cookie": "; ".join(
            f"{c['name']}={c['value']}" for c in driver.get_cookies())})) as r:
        assert r.headers["Content-Type"] == "application/cbor"
        with open(path("vical.cbor"), "wb") as f:
            f.write(r.read())
    with open(path("member.pem"), "w") as f:
        f.write(iaca["certificatePEM"])
    shot("14-vical")

    # Both events in the audit page, and the chain check.
    navigating(driver.find_element(By.LINK_TEXT, "Audit log").click)
    for event in ("X509_DOCUMENT_SIGNER_CERTIFICATE_CREATE_SUCCESS", "X509_CERTIFICATE_REVOKE_SUCCESS"):
        fill("event", event)
        navigating(driver.find_element(By.CSS_SELECTOR, "form.filters button").click)
        assert event in driver.find_element(By.TAG_NAME, "table").text, event
    fill("event", "")
    navigating(driver.find_element(By.CSS_SELECTOR, "form.filters button").click)
    navigating(driver.find_element(By.ID, "verify").click)
    assert "intact" in driver.find_element(By.ID, "chain").text
    shot("15-audit")

    # Sign out: the session is gone.
    navigating(driver.find_element(By.CSS_SELECTOR, "form[action='/console/sign-out'] button").click)
    assert driver.current_url.endswith("/console/sign-in"), driver.current_url
    driver.get(base + "/console/keys")
    assert driver.current_url.endswith("/console/sign-in"), driver.current_url
    assert not console_errors, console_errors
    print(json.dumps(out))
except Exception:
    driver.save_screenshot(os.path.join(work, "failure.png"))
    with open(os.path.join(work, "failure.html"), "w") as f:
        f.write(driver.page_source)
    raise
finally:
    driver.quit()
