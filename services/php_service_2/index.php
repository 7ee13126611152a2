<?php
// Service 2 of the classic service-registration demo.
header('Content-Type: text/plain; charset=utf-8');
echo 'This is Service 2.';
