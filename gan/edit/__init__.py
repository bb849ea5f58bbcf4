"""Edit: SeFa directions (`sefa`) and the Edit service (`service.Editor`)."""
