SELECT pid FROM foundation.registry WHERE name = 'bench';
