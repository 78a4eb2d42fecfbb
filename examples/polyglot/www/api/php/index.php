<?php
header('Content-Type: application/json');
echo json_encode(["lang" => "php", "pid" => getmypid(), "query" => $_SERVER["QUERY_STRING"] ?? ""]), "\n";
