<?php
// The PHP image's placeholder page: mount your application on /srv/www.
header('Content-Type: text/plain');
echo 'hello from php-cgi ', PHP_VERSION, ' pid=', getmypid(), "\n";
