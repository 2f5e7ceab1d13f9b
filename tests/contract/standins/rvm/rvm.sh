# rvm stand-in (/etc/profile.d/rvm.sh): puts the rvm command on PATH, as rvm's profile script does.
case ":$PATH:" in
  *:/usr/local/rvm/bin:*) ;;
  *) PATH="$PATH:/usr/local/rvm/bin"; export PATH ;;
esac
export rvm_path=/usr/local/rvm
