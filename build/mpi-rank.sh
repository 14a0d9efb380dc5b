#!/usr/bin/env bash
# One rank of a data-parallel run:  mpiexec.mpich -np N build/mpi-rank.sh dotnet actionkit.dll train ...
# Runs the command; when a signal kills it (killed by hand, or by the kernel's out-of-memory killer) it says which rank
# died, which MPICH's own message does not (it names the process id), and exits with the same status, so mpiexec
# ends the other ranks. The job's outputs and last good checkpoint stay as they were. The command dies with this script
# (--pdeathsig), so a rank never outlives its launcher.
setpriv --pdeathsig KILL -- "$@"
status=$?
if [ "$status" -gt 128 ]; then
  echo "rank ${PMI_RANK:-?} of ${PMI_SIZE:-?} on $(hostname) was killed by signal $((status - 128)) (SIG$(kill -l $((status - 128)))): killed, or out of memory; the job stops, its last good checkpoint stays in place (continue with --resume)" >&2
fi
exit "$status"
