<?php
header('Content-Type: text/plain');
echo "hello from php-cgi pid=" . getmypid() . "\n";
echo "query=" . ($_SERVER['QUERY_STRING'] ?? '') . "\n";
if (isset($_GET['sleep'])) {
    usleep((int)$_GET['sleep'] * 1000);
    echo "slept " . (int)$_GET['sleep'] . " ms\n";
}
