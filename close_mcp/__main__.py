from close_mcp.cli import main

main()
