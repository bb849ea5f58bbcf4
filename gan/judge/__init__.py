"""Judge: the discriminator's verdict (`judge`) and the Judge service (`service.Judge`)."""
