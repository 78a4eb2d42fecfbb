<?php
// ?sleep=MS (at most 10000) waits that long first, to show a slow request.
if (isset($_GET['sleep'])) {
    usleep(min(max((int)$_GET['sleep'], 0), 10000) * 1000);
}
header('Content-Type: application/json');
echo json_encode(["lang" => "php", "pid" => getmypid(), "query" => $_SERVER["QUERY_STRING"] ?? ""]), "\n";
