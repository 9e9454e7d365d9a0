"""The local vendors answer as the vendors do where the SDKs do not look: credentials, errors, their write log."""

from __future__ import annotations

import httpx

from opsdesk.crew.demo.servers import ConfluenceServer, GitLabServer, JiraServer
from tests.crew.conftest import TOKEN

_JIRA_AUTH = ("opsdesk", TOKEN)


def test_every_vendor_refuses_a_request_without_the_right_credentials(
    jira_server: JiraServer, confluence_server: ConfluenceServer, gitlab_server: GitLabServer
) -> None:
    assert httpx.get(f"{jira_server.url}/rest/api/2/myself").status_code == 401
    assert httpx.get(f"{jira_server.url}/rest/api/2/myself", auth=("opsdesk", "wrong")).status_code == 401
    assert httpx.get(f"{jira_server.url}/rest/api/2/myself", auth=_JIRA_AUTH).status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{confluence_server.url}/rest/api/space/DEMO", headers=bearer).status_code == 200
    assert httpx.get(f"{gitlab_server.url}/api/v4/projects/1", headers={"PRIVATE-TOKEN": "nope"}).status_code == 401
    assert httpx.get(f"{gitlab_server.url}/api/v4/projects/1", headers={"PRIVATE-TOKEN": TOKEN}).status_code == 200


def test_jql_the_server_cannot_read_is_a_400_in_jiras_shape(jira_server: JiraServer) -> None:
    fields = {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "t"}
    httpx.post(f"{jira_server.url}/rest/api/2/issue", json={"fields": fields}, auth=_JIRA_AUTH)

    answer = httpx.get(f"{jira_server.url}/rest/api/2/search", params={"jql": "summary ~ t"}, auth=_JIRA_AUTH)

    assert answer.status_code == 400
    assert answer.json()["errorMessages"][0].startswith("Error in the JQL Query: cannot read the clause")


def test_confluence_refuses_a_second_page_with_the_same_title_and_logs_the_refusal(
    confluence_server: ConfluenceServer,
) -> None:
    page = {"type": "page", "title": "Same", "space": {"key": "DEMO"}, "body": {"storage": {"value": "<p/>"}}}
    url = f"{confluence_server.url}/rest/api/content"
    first = httpx.post(url, json=page, auth=_JIRA_AUTH)
    second = httpx.post(url, json=page, auth=_JIRA_AUTH)

    assert (first.status_code, second.status_code) == (200, 400)
    assert "A page with this title already exists" in second.json()["message"]
    assert [w.status for w in confluence_server.writes(applied_only=False)] == [200, 400]
    assert [w.status for w in confluence_server.writes()] == [200]
    assert confluence_server.writes()[0].body["title"] == "Same"


def test_gitlab_keeps_an_encoded_file_path_as_one_segment(gitlab_server: GitLabServer) -> None:
    headers = {"PRIVATE-TOKEN": TOKEN}
    base = f"{gitlab_server.url}/api/v4/projects/opsdesk%2Fdemo"
    body = {
        "branch": "main",
        "commit_message": "Nested",
        "actions": [{"action": "create", "file_path": "a/b/c.txt", "content": "deep"}],
    }
    assert httpx.post(f"{base}/repository/commits", json=body, headers=headers).status_code == 201

    answer = httpx.get(f"{base}/repository/files/a%2Fb%2Fc.txt", params={"ref": "main"}, headers=headers)

    assert answer.status_code == 200 and answer.json()["file_path"] == "a/b/c.txt"
    unsafe = {**body, "actions": [{"action": "create", "file_path": "../escape.txt", "content": "x"}]}
    refused = httpx.post(f"{base}/repository/commits", json=unsafe, headers=headers)
    assert refused.status_code == 400 and "file_path] is invalid" in refused.json()["message"]
